/* fuzz_tsv.c — libFuzzer target for the TSV reader (tsv_read, tsv_int,
 * util.h), which every rung's data passes through.
 *
 * Each input is read as a TSV file with at least 1 field per line, then
 * checked against the reader's contract: at least one record; line numbers
 * start after the header and increase; no field holds a tab, a newline or a
 * NUL; every field lies inside the file's buffer and ends where the file
 * has a tab, a newline, the end, or the '\r' of a CRLF (so CRLF files read
 * like LF files). Then every field is parsed with
 * tsv_int in [-1000, 1000] (most die: that is the point) and a parsed value
 * must equal what strtol reads. Last, the same file is read requiring 3
 * fields per line, to exercise the refusal of short lines. Any die() returns
 * here (fuzz.h). Run by `make fuzz`.
 */
#include "fuzz.h"

#include <errno.h>

#define INT_LO (-1000L)
#define INT_HI 1000L

static const char *input_path;

typedef struct {
    Tsv t;
    int min_fields;
} ReadCall;

static void read_tsv(void *arg) {
    ReadCall *c = arg;
    tsv_read(&c->t, input_path, c->min_fields);
}

typedef struct {
    const Tsv *t;
    const TsvRow *r;
    int field;
    long value;
} IntCall;

static void parse_int(void *arg) {
    IntCall *c = arg;
    c->value = tsv_int(c->t, c->r, c->field, INT_LO, INT_HI);
}

static void check(const Tsv *t, const uint8_t *data, size_t size) {
    if (t->nrows < 1) abort();
    int last_line = 1;  /* the header */
    for (int i = 0; i < t->nrows; i++) {
        const TsvRow *r = &t->rows[i];
        if (r->line <= last_line || r->nfields < 1) abort();
        last_line = r->line;
        for (int k = 0; k < r->nfields; k++) {
            const char *f = r->fields[k];
            if (f < t->buf || f > t->buf + size) abort();
            if (strpbrk(f, "\t\n")) abort();
            size_t n = strlen(f);
            if (f + n > t->buf + size) abort();
            /* what ended the field in the file: a tab, or for the last field
             * the newline, the end of the file, or the '\r' of a CRLF */
            size_t off = (size_t)(f - t->buf) + n;
            if (k < r->nfields - 1) {
                if (off >= size || data[off] != '\t') abort();
            } else if (off < size) {
                int crlf = data[off] == '\r' && (off + 1 == size || data[off + 1] == '\n');
                if (data[off] != '\n' && !crlf) abort();
                if (data[off] == '\n' && n > 0 && f[n - 1] == '\r') abort();  /* a CRLF kept its CR */
            }
            IntCall c = {t, r, k, 0};
            if (fuzz_call(parse_int, &c)) {
                char *end;
                errno = 0;
                long want = strtol(f, &end, 10);
                if (c.value != want || *end != '\0' || want < INT_LO || want > INT_HI) abort();
            }
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    input_path = fuzz_file(data, size, "tsv");
    ReadCall c;
    memset(&c, 0, sizeof c);
    c.min_fields = 1;
    if (fuzz_call(read_tsv, &c)) {
        check(&c.t, data, size);
        tsv_free(&c.t);
    }
    memset(&c, 0, sizeof c);
    c.min_fields = 3;
    if (fuzz_call(read_tsv, &c)) {
        for (int i = 0; i < c.t.nrows; i++) if (c.t.rows[i].nfields < 3) abort();
        tsv_free(&c.t);
    }
    return 0;
}
