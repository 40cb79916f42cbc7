/* eng_noc.c - the engine's 2-D mesh network: XY routing over directed link resources,
 * store-and-forward or wormhole packets (sim/engine/aimc_engine.h, docs/engine.md "On-chip network").
 */
#include "eng_internal.h"

#include <stdlib.h>
#include <string.h>

#define MESH_NODES_MAX 65536u

static const char *const dir_name[4] = {"x+", "x-", "y+", "y-"};

void aimc_eng__mesh_free(aimc_eng *e)
{
    for (size_t i = 0; i < e->nmesh; i++) {
        free(e->mesh[i].links);
        free(e->mesh[i].route);
        free(e->mesh[i].start);
        free(e->mesh[i].end);
    }
    free(e->mesh);
    e->mesh = NULL;
    e->nmesh = e->mesh_cap = 0;
}

/* Undo resources added after `nres` (a failed mesh_add). */
static void res_truncate(aimc_eng *e, size_t nres)
{
    while (e->nres > nres) {
        eng_res *r = &e->res[--e->nres];
        free(r->slots);
    }
}

int aimc_eng_mesh_add(aimc_eng *e, const char *name, uint32_t track,
                      const aimc_eng_mesh_params *p, int *mesh, aimc_diag *d)
{
    if (!e) return aimc_diag_set(d, AIMC_ERR_BADHANDLE, "engine: NULL engine");
    /* Link names are "<mesh>.<x>.<y>.<dir>": at most 5 + 5 + 2 + 3 characters more. */
    if (!aimc_eng__name_ok(name) || strlen(name) + 15 >= AIMC_ENG_NAME_MAX)
        return aimc_diag_set(d, AIMC_ERR_INVALID,
                             "engine: mesh name: 1 to %d printable ASCII characters",
                             AIMC_ENG_NAME_MAX - 16);
    if (!mesh) return aimc_diag_set(d, AIMC_ERR_INVALID, "engine: mesh %s: id is NULL", name);
    if (!p || p->width_x < 1 || p->height_y < 1 ||
        (uint64_t)p->width_x * p->height_y > MESH_NODES_MAX)
        return aimc_diag_set(d, AIMC_ERR_INVALID,
                             "engine: mesh %s: width_x x height_y: must be 1..%u nodes", name,
                             MESH_NODES_MAX);
    if (!(p->link_bytes_per_cycle > 0) || p->link_bytes_per_cycle > 1e300)
        return aimc_diag_set(d, AIMC_ERR_INVALID,
                             "engine: mesh %s: link_bytes_per_cycle: must be > 0 and finite",
                             name);
    if (p->mode != AIMC_ENG_NOC_STORE_FORWARD && p->mode != AIMC_ENG_NOC_WORMHOLE)
        return aimc_diag_set(d, AIMC_ERR_INVALID,
                             "engine: mesh %s: mode: store-and-forward or wormhole", name);
    if (e->nmesh >= (size_t)INT32_MAX)
        return aimc_diag_set(d, AIMC_ERR_NOMEM, "engine: mesh %s: too many meshes", name);
    if (e->nmesh == e->mesh_cap) {
        size_t cap = e->mesh_cap ? 2 * e->mesh_cap : 4;
        eng_mesh *m = realloc(e->mesh, cap * sizeof *m);
        if (!m) return aimc_diag_set(d, AIMC_ERR_NOMEM, "engine: mesh %s: out of memory", name);
        e->mesh = m;
        e->mesh_cap = cap;
    }

    const uint32_t w = p->width_x, h = p->height_y, nodes = w * h;
    const size_t hops_max = (size_t)w + h;
    eng_mesh m;
    memset(&m, 0, sizeof m);
    strcpy(m.name, name);
    m.track = track;
    m.p = *p;
    m.links = malloc((size_t)nodes * 4 * sizeof *m.links);
    m.route = malloc(hops_max * sizeof *m.route);
    m.start = malloc(hops_max * sizeof *m.start);
    m.end = malloc(hops_max * sizeof *m.end);
    const size_t nres0 = e->nres;
    int rc = AIMC_OK;
    if (!m.links || !m.route || !m.start || !m.end) {
        rc = aimc_diag_set(d, AIMC_ERR_NOMEM, "engine: mesh %s: out of memory", name);
        goto fail;
    }
    const aimc_eng_link_params lp = {p->link_bytes_per_cycle, p->link_latency_cycles};
    for (uint32_t n = 0; n < nodes; n++) {
        const uint32_t x = n % w, y = n / w;
        const int exists[4] = {x + 1 < w, x > 0, y + 1 < h, y > 0};
        for (int dir = 0; dir < 4; dir++) {
            m.links[(size_t)n * 4 + dir] = -1;
            if (!exists[dir]) continue;
            char lname[AIMC_ENG_NAME_MAX];
            snprintf(lname, sizeof lname, "%s.%u.%u.%s", name, x, y, dir_name[dir]);
            rc = aimc_eng_link_add(e, lname, track, &lp, &m.links[(size_t)n * 4 + dir], d);
            if (rc) goto fail;
        }
    }
    e->mesh[e->nmesh] = m;
    *mesh = (int)e->nmesh++;
    return AIMC_OK;

fail:
    res_truncate(e, nres0);
    free(m.links);
    free(m.route);
    free(m.start);
    free(m.end);
    return rc;
}

static const eng_mesh *mesh_get(const aimc_eng *e, int mesh)
{
    if (!e || mesh < 0 || (size_t)mesh >= e->nmesh) return NULL;
    return &e->mesh[mesh];
}

int aimc_eng_mesh_link(const aimc_eng *e, int mesh, uint32_t node, aimc_eng_dir dir, int *res)
{
    const eng_mesh *m = mesh_get(e, mesh);
    if (!m) return AIMC_ERR_BADHANDLE;
    if (node >= m->p.width_x * m->p.height_y || (unsigned)dir > AIMC_ENG_YMINUS || !res)
        return AIMC_ERR_RANGE;
    const int id = m->links[(size_t)node * 4 + dir];
    if (id < 0) return AIMC_ERR_NOTFOUND;
    *res = id;
    return AIMC_OK;
}

/* XY route into out[] (room for width_x + height_y); returns the hop count. */
static size_t route_xy(const eng_mesh *m, uint32_t src, uint32_t dst, int *out, size_t cap)
{
    const uint32_t w = m->p.width_x;
    uint32_t x = src % w, y = src / w;
    const uint32_t dx = dst % w, dy = dst / w;
    size_t n = 0;
    while (x != dx) {
        const int dir = dx > x ? AIMC_ENG_XPLUS : AIMC_ENG_XMINUS;
        if (n < cap) out[n] = m->links[((size_t)y * w + x) * 4 + dir];
        n++;
        x = dx > x ? x + 1 : x - 1;
    }
    while (y != dy) {
        const int dir = dy > y ? AIMC_ENG_YPLUS : AIMC_ENG_YMINUS;
        if (n < cap) out[n] = m->links[((size_t)y * w + x) * 4 + dir];
        n++;
        y = dy > y ? y + 1 : y - 1;
    }
    return n;
}

int aimc_eng_mesh_route(const aimc_eng *e, int mesh, uint32_t src, uint32_t dst, int *links,
                        size_t cap, size_t *hops)
{
    const eng_mesh *m = mesh_get(e, mesh);
    if (!m) return AIMC_ERR_BADHANDLE;
    const uint32_t nodes = m->p.width_x * m->p.height_y;
    if (src >= nodes || dst >= nodes) return AIMC_ERR_RANGE;
    if (!links) cap = 0;
    size_t n = route_xy(m, src, dst, links, cap);
    if (hops) *hops = n;
    return AIMC_OK;
}

int aimc_eng_mesh_send(aimc_eng *e, int mesh, uint32_t src, uint32_t dst, uint64_t bytes,
                       uint64_t ready, uint64_t *arrive)
{
    if (!e || mesh < 0 || (size_t)mesh >= e->nmesh) return AIMC_ERR_BADHANDLE;
    eng_mesh *m = &e->mesh[mesh];
    const uint32_t nodes = m->p.width_x * m->p.height_y;
    if (src >= nodes || dst >= nodes) return AIMC_ERR_RANGE;
    if (bytes < 1 || bytes > AIMC_ENG_BYTES_MAX) return AIMC_ERR_INVALID;
    const size_t n = route_xy(m, src, dst, m->route, (size_t)m->p.width_x + m->p.height_y);
    if (n == 0) {
        if (arrive) *arrive = ready;
        return AIMC_OK;
    }
    const uint64_t ser = aimc_eng_serial_cycles(m->p.link_bytes_per_cycle, bytes);
    const uint64_t rl = m->p.router_latency_cycles, ll = m->p.link_latency_cycles;
    uint64_t hop, t = ready, arr;
    if (!eng_add(rl, ll, &hop)) return AIMC_ERR_RANGE;

    /* Forward: each hop's busy interval given the links' current reservations. */
    if (m->p.mode == AIMC_ENG_NOC_STORE_FORWARD) {
        for (size_t i = 0; i < n; i++) {
            const uint64_t free_at = e->res[m->route[i]].slots[0].free_at;
            uint64_t head;
            if (!eng_add(t, rl, &head)) return AIMC_ERR_RANGE;
            m->start[i] = head > free_at ? head : free_at;
            if (!eng_add(m->start[i], ser, &m->end[i]) || !eng_add(m->end[i], ll, &t))
                return AIMC_ERR_RANGE;
        }
        arr = t;
    } else {
        /* The head reaches link i's router output at `t`; the link takes it when free. */
        if (!eng_add(t, rl, &t)) return AIMC_ERR_RANGE;
        for (size_t i = 0; i < n; i++) {
            const uint64_t free_at = e->res[m->route[i]].slots[0].free_at;
            m->start[i] = t > free_at ? t : free_at;
            if (!eng_add(m->start[i], hop, &t)) return AIMC_ERR_RANGE;
        }
        /* Backward: the tail leaves link i no earlier than its serialisation allows, and no
         * earlier than one hop before it leaves link i+1 (a blocked packet holds its links). */
        if (!eng_add(m->start[n - 1], ser, &m->end[n - 1]) || !eng_add(m->end[n - 1], ll, &arr))
            return AIMC_ERR_RANGE;
        for (size_t i = n - 1; i-- > 0;) {
            const uint64_t own = m->start[i] + ser; /* <= start[i+1] + ser - hop: no overflow */
            const uint64_t held = m->end[i + 1] - hop;
            m->end[i] = own > held ? own : held;
        }
    }

    for (size_t i = 0; i < n; i++) {
        const int id = m->route[i];
        eng_res *r = &e->res[id];
        r->slots[0].free_at = m->end[i];
        r->ops++;
        r->bytes += bytes;
        eng_busy(e, id, 0, m->start[i], m->end[i], bytes);
    }
    if (arrive) *arrive = arr;
    return AIMC_OK;
}
