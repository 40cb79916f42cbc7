/* vp.cpp - the C bindings of aimc_vp.h: glue from C calls to the SystemC platform.
 *
 * One platform module per process (SystemC's kernel is a singleton), elaborated at the first
 * aimc_vp_create and kept to the end of the process; each aimc_vp is a fresh device model on
 * it. No call lets a C++ exception (e.g. an sc_report) reach C.
 */
#include "aimc_sysc.h"
#include "aimc_vp.h"

#include <new>

#include <tlm_utils/tlm_quantumkeeper.h>

using sc_core::sc_time;
using sc_core::SC_NS;
using sc_core::SC_ZERO_TIME;

/* libsystemc's own main() calls sc_main; programs with a main() of their own (every aimc
 * binary) never run it, but the linker wants the symbol. Weak: a SystemC program's own
 * sc_main wins. */
extern "C" int sc_main(int argc, char *argv[]) __attribute__((weak));
extern "C" int sc_main(int argc, char *argv[])
{
    (void)argc;
    (void)argv;
    return 1;
}

namespace {

struct vp_platform : sc_core::sc_module {
    tlm_utils::simple_initiator_socket<vp_platform> host;
    aimc_sysc_dev dev;
    aimc_sysc_mem mem;
    sc_core::sc_signal<bool> irq_sig;
    bool pause_on_irq = false;

    explicit vp_platform(sc_core::sc_module_name name)
        : sc_module(name), host("host"), dev("aimc", nullptr, 0), mem("mem"), irq_sig("irq")
    {
        host.bind(dev.regs);
        dev.dma.bind(mem.socket);
        dev.irq.bind(irq_sig);
        SC_HAS_PROCESS(vp_platform);
        SC_METHOD(on_irq);
        sensitive << dev.irq_cause_event();
        dont_initialize();
    }
    /* A new interrupt cause: a run waiting for one ends here. */
    void on_irq()
    {
        caused = true;
        if (pause_on_irq) sc_core::sc_pause();
    }
    bool caused = false;
};

vp_platform *vp_the_platform; /* elaborated once, lives to the end of the process */

} // namespace

struct aimc_vp {
    vp_platform *p;
    tlm_utils::tlm_quantumkeeper qk;
    aimc_vp_stats base; /* the module's counts when this platform was created */
    uint64_t reg_transactions;
    uint64_t syncs;
};

static aimc_vp *vp_live;

/* t in whole ns, exactly (sc_time counts time-resolution units; doubles would round at
 * large times). */
static uint64_t vp_ns(const sc_time &t)
{
    return t.value() / sc_time(1, SC_NS).value();
}

/* Run the kernel for t, then every delta cycle due at the end time. */
static void vp_run_for(const sc_time &t)
{
    if (t > SC_ZERO_TIME) sc_core::sc_start(t);
    while (sc_core::sc_pending_activity_at_current_time()) sc_core::sc_start(SC_ZERO_TIME);
}

static void vp_sync(aimc_vp *vp)
{
    vp_run_for(vp->qk.get_local_time());
    vp->qk.reset();
}

extern "C" int aimc_vp_create(const aimc_vp_opts *opts, aimc_vp **out, aimc_diag *d)
{
    aimc_vp_opts o = {};
    if (opts) o = *opts;
    if (!out) return aimc_diag_set(d, AIMC_ERR_INVALID, "sysc: NULL argument");
    *out = nullptr;
    if (vp_live)
        return aimc_diag_set(d, AIMC_ERR_STATE, "sysc: a platform is already live in this "
                             "process (SystemC has one kernel: one platform at a time)");
    aimc_vp *vp = new (std::nothrow) aimc_vp();
    if (!vp) return aimc_diag_set(d, AIMC_ERR_NOMEM, "sysc: out of memory");
    try {
        if (!vp_the_platform) vp_the_platform = new vp_platform("aimc_vp");
        vp->p = vp_the_platform;
        int rc = vp->p->dev.configure(o.arch, o.seed, d);
        if (rc != AIMC_OK) {
            delete vp;
            return rc;
        }
        vp->p->dev.set_reg_latency_cycles(o.reg_latency_cycles ? o.reg_latency_cycles : 1);
        vp->p->mem.unmap_all();
        vp->p->mem.set_dmi(!o.no_dmi);
        uint64_t q = o.quantum_ns ? o.quantum_ns : AIMC_VP_QUANTUM_NS;
        tlm::tlm_global_quantum::instance().set(sc_time((double)q, SC_NS));
        vp_run_for(SC_ZERO_TIME); /* elaborates at the first call; settles the irq line */
        vp->qk.reset();
        vp->base.dma_transactions = vp->p->dev.dma_transactions();
        vp->base.dma_dmi_accesses = vp->p->dev.dma_dmi_accesses();
        vp->base.dmi_grants = vp->p->dev.dmi_grants();
    } catch (const std::exception &e) {
        delete vp;
        return aimc_diag_set(d, AIMC_ERR_UNSUPPORTED, "sysc: SystemC: %s", e.what());
    }
    vp_live = vp;
    *out = vp;
    return AIMC_OK;
}

extern "C" aimc_vp *aimc_vp_current(void)
{
    return vp_live;
}

extern "C" void aimc_vp_destroy(aimc_vp *vp)
{
    if (!vp) return;
    try {
        vp->p->mem.unmap_all();
        vp_sync(vp);
        vp->p->dev.release();
    } catch (const std::exception &) {
        /* nothing more to release */
    }
    if (vp_live == vp) vp_live = nullptr;
    delete vp;
}

extern "C" int aimc_vp_mem_map(aimc_vp *vp, uint64_t addr, void *host, size_t n)
{
    if (!vp) return AIMC_ERR_INVALID;
    return vp->p->mem.map(addr, host, n) ? AIMC_OK : AIMC_ERR_INVALID;
}

extern "C" int aimc_vp_mem_unmap(aimc_vp *vp, uint64_t addr)
{
    if (!vp) return AIMC_ERR_INVALID;
    return vp->p->mem.unmap(addr) ? AIMC_OK : AIMC_ERR_NOTFOUND;
}

static int vp_reg(aimc_vp *vp, tlm::tlm_command cmd, uint32_t off, uint32_t *val)
{
    tlm::tlm_generic_payload t;
    sc_time delay = vp->qk.get_local_time();
    t.set_command(cmd);
    t.set_address(off);
    t.set_data_ptr(reinterpret_cast<unsigned char *>(val));
    t.set_data_length(sizeof *val);
    t.set_streaming_width(sizeof *val);
    t.set_byte_enable_ptr(nullptr);
    t.set_dmi_allowed(false);
    t.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
    try {
        vp->p->host->b_transport(t, delay);
        vp->reg_transactions++;
        vp->qk.set(delay);
        if (vp->qk.need_sync()) {
            vp_sync(vp);
            vp->syncs++;
        }
    } catch (const std::exception &) {
        return AIMC_ERR_DEVICE;
    }
    return t.get_response_status() == tlm::TLM_OK_RESPONSE ? AIMC_OK : AIMC_ERR_RANGE;
}

extern "C" int aimc_vp_reg_read32(aimc_vp *vp, uint32_t off, uint32_t *val)
{
    if (!vp || !val) return AIMC_ERR_INVALID;
    *val = 0;
    return vp_reg(vp, tlm::TLM_READ_COMMAND, off, val);
}

extern "C" int aimc_vp_reg_write32(aimc_vp *vp, uint32_t off, uint32_t val)
{
    if (!vp) return AIMC_ERR_INVALID;
    return vp_reg(vp, tlm::TLM_WRITE_COMMAND, off, &val);
}

extern "C" int aimc_vp_sync(aimc_vp *vp)
{
    if (!vp) return AIMC_ERR_INVALID;
    try {
        vp_sync(vp);
    } catch (const std::exception &) {
        return AIMC_ERR_DEVICE;
    }
    return AIMC_OK;
}

extern "C" int aimc_vp_run(aimc_vp *vp, uint64_t timeout_ns)
{
    if (!vp) return AIMC_ERR_INVALID;
    try {
        vp_sync(vp);
        uint64_t left_ns = vp_ns(sc_core::sc_max_time() - sc_core::sc_time_stamp());
        if (timeout_ns > left_ns) timeout_ns = left_ns; /* SystemC time ends at 2^64 units */
        /* The device works in SystemC time (its thread); the run ends at its next interrupt
         * cause or when the time is up. */
        vp->p->caused = false;
        vp->p->pause_on_irq = true;
        vp_run_for(sc_time((double)timeout_ns, SC_NS));
        vp->p->pause_on_irq = false;
        vp->qk.reset();
    } catch (const std::exception &) {
        vp->p->pause_on_irq = false;
        return AIMC_ERR_DEVICE;
    }
    return vp->p->caused ? AIMC_OK : AIMC_ERR_TIMEOUT;
}

extern "C" int aimc_vp_irq_level(const aimc_vp *vp)
{
    return vp && vp->p->irq_sig.read() ? 1 : 0;
}

/* t in whole ns, exactly (sc_time counts time-resolution units; doubles would round at
 * large times). */

extern "C" uint64_t aimc_vp_time_ns(const aimc_vp *vp)
{
    return vp ? vp_ns(vp->qk.get_current_time()) : 0;
}

extern "C" uint64_t aimc_vp_kernel_time_ns(const aimc_vp *vp)
{
    return vp ? vp_ns(sc_core::sc_time_stamp()) : 0;
}

extern "C" int aimc_vp_host_wrote(aimc_vp *vp, uint64_t addr, uint64_t n)
{
    if (!vp) return AIMC_ERR_INVALID;
    vp->p->dev.host_wrote(addr, n);
    return AIMC_OK;
}

extern "C" const struct aimc_accel *aimc_vp_device(const aimc_vp *vp)
{
    return vp ? vp->p->dev.model() : nullptr;
}

extern "C" int aimc_vp_inject_hang(aimc_vp *vp, uint32_t after)
{
    if (!vp) return AIMC_ERR_INVALID;
    vp->p->dev.inject_hang(after);
    return AIMC_OK;
}

extern "C" int aimc_vp_stats_get(const aimc_vp *vp, aimc_vp_stats *out)
{
    if (!vp || !out) return AIMC_ERR_INVALID;
    out->reg_transactions = vp->reg_transactions;
    out->dma_transactions = vp->p->dev.dma_transactions() - vp->base.dma_transactions;
    out->dma_dmi_accesses = vp->p->dev.dma_dmi_accesses() - vp->base.dma_dmi_accesses;
    out->dmi_grants = vp->p->dev.dmi_grants() - vp->base.dmi_grants;
    out->syncs = vp->syncs;
    return AIMC_OK;
}
