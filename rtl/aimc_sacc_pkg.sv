// aimc_sacc_pkg.sv - the shift-and-add accumulator datapath (bit exact, integer).
//
// One conversion slot delivers RTL_LANES signed 32-bit ADC codes, one per column. Each
// column's 64-bit signed accumulator adds the code weighted by its input step: with a
// bit-serial DAC step s carries input bit s, so the code is shifted left by s; with a
// multi-bit DAC there is one step and no shift. The sums are exact two's-complement
// integers: 31 steps (cfg_steps <= 31) of |code| <= 2^31 shifted by at most 30 bits sum to
// less than 2^31 * 2^31 = 2^62 in magnitude, inside the signed 64-bit accumulator.
//
// It is a package of functions, not a module, because the tile sequencer applies it to every
// slot of every tile of a round within one clock edge (the crossbars' parallel ADC banks).
package aimc_sacc_pkg;

  // One lane: acc_in + (sign-extended code << shift); first: the step starts a new sum.
  function automatic logic [63:0] sacc_lane(input logic [63:0] acc_in, input logic [31:0] code,
                                            input logic [4:0] shift, input logic first);
    logic [63:0] term;
    term = {{32{code[31]}}, code} << shift;  // sign-extend, then weight by 2^shift
    return (first ? 64'd0 : acc_in) + term;  // two's-complement add: exact for signed sums
  endfunction
endpackage : aimc_sacc_pkg
