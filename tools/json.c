/* json.c - a small streaming JSON writer (json.h). */
#include "json.h"

#include <math.h>
#include <inttypes.h>

int aimc_json_open(aimc_json *j, const char *path)
{
    j->f = fopen(path, "w");
    j->depth = 0;
    j->first[0] = 1;
    j->failed = 0;
    return j->f ? 0 : -1;
}

int aimc_json_open_file(aimc_json *j, FILE *f)
{
    j->f = f;
    j->depth = 0;
    j->first[0] = 1;
    j->failed = 0;
    return f ? 0 : -1;
}

int aimc_json_close(aimc_json *j)
{
    if (!j->f) return -1;
    fputc('\n', j->f);
    if (ferror(j->f)) j->failed = 1;
    if (fclose(j->f) != 0) j->failed = 1;
    j->f = NULL;
    return j->failed ? -1 : 0;
}

static void put_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\t': fputs("\\t", f); break;
        case '\r': fputs("\\r", f); break;
        default:
            if (*p < 0x20)
                fprintf(f, "\\u%04x", *p);
            else
                fputc(*p, f);
        }
    }
    fputc('"', f);
}

/* Comma, newline and indentation before a member, then its key. */
static void member(aimc_json *j, const char *key)
{
    if (!j->first[j->depth]) fputc(',', j->f);
    j->first[j->depth] = 0;
    if (j->depth > 0) {
        fputc('\n', j->f);
        for (int i = 0; i < j->depth; i++) fputs("  ", j->f);
    }
    if (key) {
        put_string(j->f, key);
        fputs(": ", j->f);
    }
}

static void open_(aimc_json *j, const char *key, char c)
{
    member(j, key);
    fputc(c, j->f);
    if (j->depth + 1 < AIMC_JSON_MAX_DEPTH) {
        j->depth++;
        j->first[j->depth] = 1;
    } else {
        j->failed = 1;
    }
}

static void close_(aimc_json *j, char c)
{
    int empty = j->first[j->depth];
    if (j->depth > 0) j->depth--;
    if (!empty) {
        fputc('\n', j->f);
        for (int i = 0; i < j->depth; i++) fputs("  ", j->f);
    }
    fputc(c, j->f);
}

void aimc_json_obj_begin(aimc_json *j, const char *key) { open_(j, key, '{'); }
void aimc_json_obj_end(aimc_json *j) { close_(j, '}'); }
void aimc_json_arr_begin(aimc_json *j, const char *key) { open_(j, key, '['); }
void aimc_json_arr_end(aimc_json *j) { close_(j, ']'); }

void aimc_json_str(aimc_json *j, const char *key, const char *v)
{
    member(j, key);
    put_string(j->f, v);
}

void aimc_json_num(aimc_json *j, const char *key, double v)
{
    member(j, key);
    if (isfinite(v))
        fprintf(j->f, "%.12g", v);
    else
        fputs("null", j->f);
}

void aimc_json_u64(aimc_json *j, const char *key, uint64_t v)
{
    member(j, key);
    fprintf(j->f, "%" PRIu64, v);
}
