/* Helpers for the storage tests; see test_storage_util.h. */
#include "test_storage_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "node/storage_internal.h"
#include "util/log.h"

char ts_root[256];
static char log_path[300];

void
ts_setup(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(ts_root, sizeof(ts_root), "%s/rs-test-storage-XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(ts_root));
    snprintf(log_path, sizeof(log_path), "%s/log", ts_root);
    ck_assert_int_eq(log_open(log_path), 0);
    log_set_level(LOG_VERBOSE);
}

void
ts_teardown(void)
{
    log_close();
    ts_rmrf(ts_root);
}

const char *
ts_path(const char *name)
{
    static char bufs[8][512];
    static int next;
    char *b = bufs[next++ % 8];
    snprintf(b, sizeof(bufs[0]), "%s/%s", ts_root, name);
    return b;
}

raft_entry *
ts_entries(uint64_t first, size_t n, uint64_t term)
{
    raft_entry *e = calloc(n ? n : 1, sizeof(*e));
    ck_assert_ptr_nonnull(e);
    for (size_t i = 0; i < n; i++) {
        uint64_t idx = first + i;
        char buf[64];
        int len = snprintf(buf, sizeof(buf), "entry-%" PRIu64 "%.*s", idx,
                           (int)(idx % 7), "#######");
        e[i].term = term;
        e[i].index = idx;
        e[i].type = (uint8_t)(idx % 3);
        e[i].len = (uint32_t)len;
        e[i].data = malloc((size_t)len);
        memcpy(e[i].data, buf, (size_t)len);
    }
    return e;
}

void
ts_free_entries(raft_entry *e, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(e[i].data);
    free(e);
}

void
ts_append_sync(storage *s, uint64_t first, size_t n, uint64_t term)
{
    raft_entry *e = ts_entries(first, n, term);
    ck_assert_msg(storage_append(s, e, n) == 0, "%s", storage_error(s));
    ck_assert_msg(storage_sync(s) == 0, "%s", storage_error(s));
    ts_free_entries(e, n);
}

void
ts_set_hs(storage *s, uint64_t term, const char *vote, uint64_t commit)
{
    raft_hard_state hs = {.term = term, .commit = commit};
    snprintf(hs.vote.s, sizeof(hs.vote.s), "%s", vote);
    ck_assert_msg(storage_set_hard_state(s, &hs) == 0, "%s",
                  storage_error(s));
}

storage *
ts_open(const char *dir, uint64_t seg_bytes, storage_loaded *ld)
{
    storage_opts o = {.segment_bytes = seg_bytes};
    storage *s = NULL;
    char err[512];
    int rc = storage_open(dir, &o, &s, ld, err, sizeof(err));
    ck_assert_msg(rc == 0, "storage_open(%s): %s", dir, err);
    return s;
}

const char *
ts_open_fails(const char *dir)
{
    static char err[512];
    storage *s = NULL;
    storage_loaded ld;
    err[0] = '\0';
    int rc = storage_open(dir, NULL, &s, &ld, err, sizeof(err));
    ck_assert_int_eq(rc, -1);
    ck_assert_ptr_null(s);
    ck_assert_uint_eq(ld.n_entries, 0);
    storage_loaded_free(&ld);
    ck_assert(err[0] != '\0');
    return err;
}

void
ts_check_range(const storage_loaded *ld, size_t at, uint64_t first,
               size_t n, uint64_t term)
{
    raft_entry *want = ts_entries(first, n, term);
    ck_assert_uint_ge(ld->n_entries, at + n);
    for (size_t i = 0; i < n; i++) {
        const raft_entry *got = &ld->entries[at + i];
        ck_assert_uint_eq(got->index, want[i].index);
        ck_assert_uint_eq(got->term, want[i].term);
        ck_assert_uint_eq(got->type, want[i].type);
        ck_assert_uint_eq(got->len, want[i].len);
        ck_assert_mem_eq(got->data, want[i].data, got->len);
    }
    ts_free_entries(want, n);
}

static char *
join(const char *dir, const char *name)
{
    static char bufs[4][512];
    static int next;
    char *b = bufs[next++ % 4];
    snprintf(b, sizeof(bufs[0]), "%s/%s", dir, name);
    return b;
}

long
ts_size(const char *dir, const char *name)
{
    struct stat st;
    if (stat(join(dir, name), &st) < 0)
        return -1;
    return (long)st.st_size;
}

bool
ts_exists(const char *dir, const char *name)
{
    return ts_size(dir, name) >= 0;
}

void
ts_flip(const char *dir, const char *name, long off)
{
    int fd = open(join(dir, name), O_RDWR);
    ck_assert_int_ge(fd, 0);
    uint8_t b;
    ck_assert_int_eq(pread(fd, &b, 1, off), 1);
    b ^= 0x5a;  /* flips several bits; any change must be caught */
    ck_assert_int_eq(pwrite(fd, &b, 1, off), 1);
    close(fd);
}

void
ts_cut(const char *dir, const char *name, long len)
{
    ck_assert_int_eq(truncate(join(dir, name), len), 0);
}

void
ts_remove(const char *dir, const char *name)
{
    ck_assert_int_eq(unlink(join(dir, name)), 0);
}

void
ts_write_file(const char *dir, const char *name, const void *buf, size_t len)
{
    FILE *f = fopen(join(dir, name), "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(buf, 1, len, f), len);
    fclose(f);
}

void
ts_copy_file(const char *src, const char *dst, const char *name)
{
    uint8_t *buf;
    size_t len;
    int fd = open(src, O_RDONLY | O_DIRECTORY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(storage_read_all(fd, name, &buf, &len), 0);
    close(fd);
    ts_write_file(dst, name, buf, len);
    free(buf);
}

void
ts_copy_dir(const char *src, const char *dst)
{
    ck_assert_int_eq(mkdir(dst, 0700), 0);
    DIR *d = opendir(src);
    ck_assert_ptr_nonnull(d);
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (de->d_name[0] != '.' && strcmp(de->d_name, "LOCK") != 0 &&
            strcmp(de->d_name, "log") != 0)
            ts_copy_file(src, dst, de->d_name);
    closedir(d);
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void
ts_rmrf(const char *path)
{
    nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int
cmp_name(const void *a, const void *b)
{
    return strcmp(a, b);
}

size_t
ts_list(const char *dir, const char *prefix, char names[][64], size_t max)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strncmp(de->d_name, prefix, strlen(prefix)) == 0 && n < max &&
            strlen(de->d_name) < 64)
            memcpy(names[n++], de->d_name, strlen(de->d_name) + 1);
    closedir(d);
    qsort(names, n, 64, cmp_name);
    return n;
}

size_t
ts_record_offsets(const char *dir, const char *name, long *offs, size_t max)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    uint8_t *buf;
    size_t len, n = 0;
    ck_assert_int_eq(storage_read_all(fd, name, &buf, &len), 0);
    close(fd);
    size_t off = STORAGE_SEG_HDR;
    while (off + STORAGE_REC_HDR <= len && n < max) {
        offs[n++] = (long)off;
        off += STORAGE_REC_HDR + storage_get_u32(buf + off);
    }
    free(buf);
    return n;
}

const char *
ts_log(void)
{
    static char buf[1 << 16];
    FILE *f = fopen(log_path, "r");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

bool
ts_log_has(const char *needle)
{
    return strstr(ts_log(), needle) != NULL;
}

void
ts_log_reset(void)
{
    ck_assert_int_eq(truncate(log_path, 0), 0);
}
