/*
 * The directory blob store ("file:/abs/dir", "file:relative/dir").
 *
 * An object lives in root/<h[0..2)>/<h>, h being the hex SHA-256 of its key:
 * fixed-length names need no escaping, and 256 subdirectories keep any one
 * directory small. The file starts with a fixed header carrying the SHA-256 of
 * the data, so data and checksum are replaced together by one rename:
 *
 *     "chatblob1 " <64 hex> "\n" <data>
 *
 * A put writes a temporary file in the same subdirectory, fsyncs it, renames
 * it over the old object and fsyncs the directory, so a reader sees the whole
 * old object or the whole new one, even across a crash. Temporary files left
 * by a crash are named "<h>.tmp.XXXXXX"; they are never read.
 *
 * Thread safety: stateless apart from the root path; every call may run
 * concurrently (the filesystem's rename is the only synchronisation).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backends/blob_check.h"
#include "backends/builtin.h"
#include "core/internal.h"

#define MAGIC "chatblob1 "
#define MAGIC_LEN 10
#define HDR_LEN (MAGIC_LEN + 64 + 1)

typedef struct fblob {
    char *root;
} fblob;

/* Paths: root + "/xx/" + 64 hex + ".tmp.XXXXXX" */
typedef struct obj_path {
    char dir[PATH_MAX];
    char file[PATH_MAX];
} obj_path;

static chat_err make_path(const fblob *fb, const char *key, obj_path *p)
{
    char h[65];
    chati_sha256_hex(key, strlen(key), h);
    int n1 = snprintf(p->dir, sizeof p->dir, "%s/%.2s", fb->root, h);
    int n2 = snprintf(p->file, sizeof p->file, "%s/%s", p->dir, h);
    /* Leave room for the ".tmp.XXXXXX" suffix of a put. */
    if (n1 < 0 || n2 < 0 || (size_t)n2 + 12 >= sizeof p->file)
        return chati_fail(CHAT_ERR_INVALID_CONFIG, "blob directory path too long");
    return CHAT_OK;
}

static chat_err io_fail(const char *what, const char *path)
{
    return chati_fail(CHAT_ERR_STORAGE, "file blob: %s %s: %s", what, path, strerror(errno));
}

/* mkdir -p, tolerating races with other creators. */
static int mkdir_p(const char *path)
{
    char buf[PATH_MAX];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(buf, path, n + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(buf, 0755) != 0 && errno != EEXIST)
        return -1;
    struct stat st;
    if (stat(buf, &st) != 0)
        return -1;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

static int fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rv = fsync(fd);
    close(fd);
    return rv;
}

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* 0 when all read, -1 on an I/O error (errno), -2 when the file ended early. */
static int read_all(int fd, void *data, size_t len)
{
    char *p = data;
    while (len > 0) {
        ssize_t r = read(fd, p, len);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (r == 0)
            return -2;
        p += r;
        len -= (size_t)r;
    }
    return 0;
}

static chat_err fblob_open(const char *url, const chat_config *cfg, void **impl)
{
    CHATI_UNUSED(cfg);
    const char *path = url ? chati_url_rest(url) : "";
    if (path[0] == '\0')
        return chati_fail(CHAT_ERR_INVALID_CONFIG, "file blob URL names no directory: %s",
                          url ? url : "(null)");
    /* Trailing slashes would double up in object paths. */
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/')
        n--;
    fblob *fb = chat_calloc(1, sizeof *fb);
    if (fb == NULL || (fb->root = chat_strndup(path, n)) == NULL) {
        chat_free(fb);
        return chati_fail(CHAT_ERR_NOMEM, "file blob: out of memory");
    }
    if (mkdir_p(fb->root) != 0) {
        chat_err rv = io_fail("cannot create directory", fb->root);
        chat_free(fb->root);
        chat_free(fb);
        return rv;
    }
    *impl = fb;
    return CHAT_OK;
}

static void fblob_close(void *impl)
{
    fblob *fb = impl;
    if (fb == NULL)
        return;
    chat_free(fb->root);
    chat_free(fb);
}

static chat_err fblob_put(void *impl, const char *key, const void *data, size_t len,
                          char sha256_hex[65])
{
    fblob *fb = impl;
    chat_err rv = chati_blob_check_key(key);
    if (rv != CHAT_OK)
        return rv;
    if (data == NULL && len > 0)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "blob data is NULL");
    obj_path p;
    if ((rv = make_path(fb, key, &p)) != CHAT_OK)
        return rv;

    char hdr[HDR_LEN + 1];
    memcpy(hdr, MAGIC, MAGIC_LEN);
    chati_sha256_hex(data, len, hdr + MAGIC_LEN);
    hdr[HDR_LEN - 1] = '\n';

    bool new_dir = false;
    if (mkdir(p.dir, 0755) == 0)
        new_dir = true;
    else if (errno != EEXIST)
        return io_fail("cannot create directory", p.dir);

    char tmp[PATH_MAX + 16];
    snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", p.file);
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return io_fail("cannot create", tmp);
    if (write_all(fd, hdr, HDR_LEN) != 0 || write_all(fd, data, len) != 0) {
        rv = io_fail("cannot write", tmp);
        goto fail;
    }
    if (fsync(fd) != 0) {
        rv = io_fail("cannot sync", tmp);
        goto fail;
    }
    if (close(fd) != 0) {
        fd = -1;
        rv = io_fail("cannot close", tmp);
        goto fail;
    }
    fd = -1;
    if (rename(tmp, p.file) != 0) {
        rv = io_fail("cannot rename", tmp);
        goto fail;
    }
    /* The rename is durable once its directory is synced (and the
     * directory's own entry, when it is new). */
    if (fsync_dir(p.dir) != 0 || (new_dir && fsync_dir(fb->root) != 0))
        return io_fail("cannot sync directory", p.dir);
    if (sha256_hex) {
        memcpy(sha256_hex, hdr + MAGIC_LEN, 64);
        sha256_hex[64] = '\0';
    }
    return CHAT_OK;

fail:
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    return rv;
}

static chat_err fblob_get(void *impl, const char *key, void **data, size_t *len)
{
    fblob *fb = impl;
    chat_err rv = chati_blob_check_key(key);
    if (rv != CHAT_OK)
        return rv;
    if (data == NULL || len == NULL)
        return chati_fail(CHAT_ERR_INVALID_ARGUMENTS, "blob get needs data and len");
    obj_path p;
    if ((rv = make_path(fb, key, &p)) != CHAT_OK)
        return rv;

    int fd = open(p.file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return chati_fail(CHAT_ERR_NOT_FOUND, "no blob %s", key);
        return io_fail("cannot open", p.file);
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        rv = io_fail("cannot stat", p.file);
        close(fd);
        return rv;
    }
    if (st.st_size < HDR_LEN) {
        close(fd);
        return chati_fail(CHAT_ERR_CHECKSUM_MISMATCH, "blob %s: truncated file %s", key,
                          p.file);
    }
    size_t n = (size_t)st.st_size - HDR_LEN;
    char hdr[HDR_LEN];
    char *buf = chat_malloc(n ? n : 1);
    if (buf == NULL) {
        close(fd);
        return chati_fail(CHAT_ERR_NOMEM, "blob %s: out of memory for %zu bytes", key, n);
    }
    int r = read_all(fd, hdr, HDR_LEN);
    if (r == 0)
        r = read_all(fd, buf, n);
    if (r != 0) {
        /* Our files are replaced, never truncated in place: short means damaged. */
        rv = r == -2 ? chati_fail(CHAT_ERR_CHECKSUM_MISMATCH, "blob %s: short file", key)
                     : io_fail("cannot read", p.file);
        close(fd);
        chat_free(buf);
        return rv;
    }
    close(fd);

    char sum[65];
    chati_sha256_hex(buf, n, sum);
    if (memcmp(hdr, MAGIC, MAGIC_LEN) != 0 || hdr[HDR_LEN - 1] != '\n' ||
        memcmp(hdr + MAGIC_LEN, sum, 64) != 0) {
        chat_free(buf);
        return chati_fail(CHAT_ERR_CHECKSUM_MISMATCH, "blob %s: stored bytes are damaged (%s)",
                          key, p.file);
    }
    *data = buf;
    *len = n;
    return CHAT_OK;
}

static chat_err fblob_remove(void *impl, const char *key)
{
    fblob *fb = impl;
    chat_err rv = chati_blob_check_key(key);
    if (rv != CHAT_OK)
        return rv;
    obj_path p;
    if ((rv = make_path(fb, key, &p)) != CHAT_OK)
        return rv;
    if (unlink(p.file) != 0) {
        if (errno == ENOENT)
            return chati_fail(CHAT_ERR_NOT_FOUND, "no blob %s", key);
        return io_fail("cannot remove", p.file);
    }
    if (fsync_dir(p.dir) != 0)
        return io_fail("cannot sync directory", p.dir);
    return CHAT_OK;
}

static chat_err fblob_stat(void *impl, const char *key, int64_t *size)
{
    fblob *fb = impl;
    chat_err rv = chati_blob_check_key(key);
    if (rv != CHAT_OK)
        return rv;
    obj_path p;
    if ((rv = make_path(fb, key, &p)) != CHAT_OK)
        return rv;
    struct stat st;
    if (stat(p.file, &st) != 0) {
        if (errno == ENOENT)
            return chati_fail(CHAT_ERR_NOT_FOUND, "no blob %s", key);
        return io_fail("cannot stat", p.file);
    }
    if (st.st_size < HDR_LEN)
        return chati_fail(CHAT_ERR_CHECKSUM_MISMATCH, "blob %s: truncated file %s", key,
                          p.file);
    if (size)
        *size = (int64_t)st.st_size - HDR_LEN;
    return CHAT_OK;
}

const chat_blob_ops chati_file_blob_ops = {
    .version = CHAT_BLOB_V1,
    .scheme = "file",
    .open = fblob_open,
    .close = fblob_close,
    .put = fblob_put,
    .get = fblob_get,
    .remove = fblob_remove,
    .stat = fblob_stat,
};
