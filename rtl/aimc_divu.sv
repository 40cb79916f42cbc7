// aimc_divu.sv - unsigned division, one quotient bit per cycle (restoring).
//
// start (with a, b) begins; W cycles later done pulses with q = a / b (b = 0 gives all ones).
// Used where a division is setup, not counted work: the tile sequencer's cores and its
// digital phase. A combinational divider of this width would be most of the sequencer's area.
`default_nettype none
module aimc_divu #(
  parameter W = 32
) (
  input  wire         clk,
  input  wire         rst_n,
  input  wire         start,
  input  wire [W-1:0] a,
  input  wire [W-1:0] b,
  output logic        done,
  output logic [W-1:0] q
);
  logic         busy;
  logic [W-1:0] rem, div, num;
  logic [W:0]   shifted;
  logic [W-1:0] trial;
  logic         fits;
  logic [$clog2(W+1)-1:0] n;

  assign shifted = {rem, num[W-1]};          // the next dividend bit into the remainder
  assign fits    = shifted >= {1'b0, div};
  assign trial   = shifted[W-1:0] - div;   // when it fits, the difference is < div

  always_ff @(posedge clk) begin
    done <= 1'b0;
    if (!rst_n) begin
      busy <= 1'b0;
      n    <= '0;
      rem  <= '0;
      div  <= '0;
      num  <= '0;
      q    <= '0;
    end else if (start) begin
      busy <= 1'b1;
      n    <= '0;
      rem  <= '0;
      div  <= b;
      num  <= a;
      q    <= '0;
    end else if (busy) begin
      // subtract the divisor when it fits; either way the remainder fits W bits
      if (fits) begin
        rem <= trial;
        q   <= {q[W-2:0], 1'b1};
      end else begin
        rem <= shifted[W-1:0];
        q   <= {q[W-2:0], 1'b0};
      end
      num <= {num[W-2:0], 1'b0};
      n   <= n + 1'b1;
      if (n == W - 1) begin
        busy <= 1'b0;
        done <= 1'b1;
      end
    end
  end
endmodule : aimc_divu
`default_nettype wire
