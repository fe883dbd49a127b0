/*
 * powercut: an LD_PRELOAD fault layer for the crash tests that models a power cut.
 *
 * For every regular file under $POWERCUT_DIR it records, before each write or
 * truncation, the bytes and the size that the operation replaces, appending them to an
 * undo log in $POWERCUT_LOG (one log per inode). fsync / fdatasync of the file empties
 * its log: what was synced survives. After the process is killed, the test applies each
 * log backwards (crates/sealdb/tests/crash_support/powercut.rs), so every file is
 * exactly as it was at its last sync: each write not followed by a sync is dropped,
 * as a power cut may drop what sat in the page cache.
 *
 * Not modelled: directory entries (a create, rename or unlink is kept as done) and
 * writes through mmap (SQLite's -shm index, which SQLite rebuilds). Files opened with
 * O_SYNC / O_DSYNC are written through and not logged.
 *
 * Undo record (little-endian): u64 offset, u64 size before, u64 n, n bytes that were at
 * [offset, offset + n) (n = 0 when the operation wrote past the old end).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char dir[PATH_MAX];
static size_t dir_len;
static char logdir[PATH_MAX];
static int ready; /* 1: configured, -1: off */

static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_pwrite64)(int, const void *, size_t, off64_t);
static ssize_t (*real_writev)(int, const struct iovec *, int);
static ssize_t (*real_pwritev)(int, const struct iovec *, int, off_t);
static int (*real_ftruncate64)(int, off64_t);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_unlink)(const char *);
static int (*real_unlinkat)(int, const char *, int);
static int (*real_rename)(const char *, const char *);
static int (*real_renameat)(int, const char *, int, const char *);

static void init(void) {
    if (ready)
        return;
    real_write = dlsym(RTLD_NEXT, "write");
    real_pwrite64 = dlsym(RTLD_NEXT, "pwrite64");
    real_writev = dlsym(RTLD_NEXT, "writev");
    real_pwritev = dlsym(RTLD_NEXT, "pwritev");
    real_ftruncate64 = dlsym(RTLD_NEXT, "ftruncate64");
    real_fsync = dlsym(RTLD_NEXT, "fsync");
    real_fdatasync = dlsym(RTLD_NEXT, "fdatasync");
    real_unlink = dlsym(RTLD_NEXT, "unlink");
    real_unlinkat = dlsym(RTLD_NEXT, "unlinkat");
    real_rename = dlsym(RTLD_NEXT, "rename");
    real_renameat = dlsym(RTLD_NEXT, "renameat");
    const char *d = getenv("POWERCUT_DIR"), *l = getenv("POWERCUT_LOG");
    if (!d || !l || !realpath(d, dir) || strlen(l) >= sizeof logdir - 64) {
        ready = -1;
        return;
    }
    dir_len = strlen(dir);
    strcpy(logdir, l);
    ready = 1;
}

/* The log file of an inode: <logdir>/<dev>-<ino>.undo, its path in .path. */
static void log_name(char *out, size_t n, dev_t dev, ino_t ino, const char *ext) {
    snprintf(out, n, "%s/%llu-%llu.%s", logdir, (unsigned long long)dev,
             (unsigned long long)ino, ext);
}

static int under_dir(const char *path) {
    return strncmp(path, dir, dir_len) == 0 && (path[dir_len] == '/' || path[dir_len] == 0);
}

/* Whether writes to fd are to be logged; fills st. */
static int tracked(int fd, struct stat *st) {
    if (ready != 1 || fstat(fd, st) != 0 || !S_ISREG(st->st_mode))
        return 0;
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || (fl & (O_SYNC | O_DSYNC)))
        return 0;
    char link[64], path[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n <= 0)
        return 0;
    path[n] = 0;
    if (!under_dir(path))
        return 0;
    char pname[PATH_MAX];
    log_name(pname, sizeof pname, st->st_dev, st->st_ino, "path");
    if (access(pname, F_OK) != 0) {
        int p = open(pname, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (p >= 0) {
            real_write(p, path, (size_t)n);
            close(p);
        }
    }
    return 1;
}

static void put_u64(unsigned char *b, uint64_t v) {
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(v >> (8 * i));
}

/* Appends the undo record of an operation on [off, off + len) of fd's file. */
static void record(int fd, const struct stat *st, off64_t off, size_t len) {
    char lname[PATH_MAX], link[64];
    log_name(lname, sizeof lname, st->st_dev, st->st_ino, "undo");
    int l = open(lname, O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (l < 0)
        abort(); /* a lost record would make the test lie */
    uint64_t size = (uint64_t)st->st_size, n = 0;
    if ((uint64_t)off < size)
        n = size - (uint64_t)off < len ? size - (uint64_t)off : len;
    unsigned char *buf = malloc(24 + n);
    if (!buf)
        abort();
    put_u64(buf, (uint64_t)off);
    put_u64(buf + 8, size);
    put_u64(buf + 16, n);
    if (n) {
        /* The fd may be write-only: read the old bytes through a read-only open. */
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        int r = open(link, O_RDONLY);
        if (r < 0 || pread(r, buf + 24, n, off) != (ssize_t)n)
            abort();
        close(r);
    }
    if (real_write(l, buf, 24 + n) != (ssize_t)(24 + n))
        abort();
    free(buf);
    close(l);
}

static void forget(dev_t dev, ino_t ino) {
    char name[PATH_MAX];
    log_name(name, sizeof name, dev, ino, "undo");
    real_unlink(name);
    log_name(name, sizeof name, dev, ino, "path");
    real_unlink(name);
}

static size_t iov_len(const struct iovec *iov, int cnt) {
    size_t t = 0;
    for (int i = 0; i < cnt; i++)
        t += iov[i].iov_len;
    return t;
}

static off64_t current_offset(int fd, const struct stat *st) {
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0 && (fl & O_APPEND))
        return st->st_size;
    return lseek64(fd, 0, SEEK_CUR);
}

ssize_t write(int fd, const void *b, size_t n) {
    pthread_mutex_lock(&lock);
    init();
    struct stat st;
    if (n && tracked(fd, &st))
        record(fd, &st, current_offset(fd, &st), n);
    ssize_t r = real_write(fd, b, n);
    int e = errno;
    pthread_mutex_unlock(&lock);
    errno = e;
    return r;
}

ssize_t pwrite64(int fd, const void *b, size_t n, off64_t off) {
    pthread_mutex_lock(&lock);
    init();
    struct stat st;
    if (n && tracked(fd, &st))
        record(fd, &st, off, n);
    ssize_t r = real_pwrite64(fd, b, n, off);
    int e = errno;
    pthread_mutex_unlock(&lock);
    errno = e;
    return r;
}

ssize_t pwrite(int fd, const void *b, size_t n, off_t off) { return pwrite64(fd, b, n, off); }

ssize_t writev(int fd, const struct iovec *iov, int cnt) {
    pthread_mutex_lock(&lock);
    init();
    struct stat st;
    size_t n = iov_len(iov, cnt);
    if (n && tracked(fd, &st))
        record(fd, &st, current_offset(fd, &st), n);
    ssize_t r = real_writev(fd, iov, cnt);
    int e = errno;
    pthread_mutex_unlock(&lock);
    errno = e;
    return r;
}

ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off) {
    pthread_mutex_lock(&lock);
    init();
    struct stat st;
    size_t n = iov_len(iov, cnt);
    if (n && tracked(fd, &st))
        record(fd, &st, off, n);
    ssize_t r = real_pwritev(fd, iov, cnt, off);
    int e = errno;
    pthread_mutex_unlock(&lock);
    errno = e;
    return r;
}

ssize_t pwritev64(int fd, const struct iovec *iov, int cnt, off64_t off) {
    return pwritev(fd, iov, cnt, (off_t)off);
}

int ftruncate64(int fd, off64_t len) {
    pthread_mutex_lock(&lock);
    init();
    struct stat st;
    if (tracked(fd, &st) && len != st.st_size)
        record(fd, &st, len, len < st.st_size ? (size_t)(st.st_size - len) : 0);
    int r = real_ftruncate64(fd, len);
    int e = errno;
    pthread_mutex_unlock(&lock);
    errno = e;
    return r;
}

int ftruncate(int fd, off_t len) { return ftruncate64(fd, len); }

static int synced(int fd, int r) {
    struct stat st;
    if (r == 0 && tracked(fd, &st))
        forget(st.st_dev, st.st_ino);
    return r;
}

int fsync(int fd) {
    pthread_mutex_lock(&lock);
    init();
    int r = synced(fd, real_fsync(fd));
    int e = errno;
    pthread_mutex_unlock(&lock);
    errno = e;
    return r;
}

int fdatasync(int fd) {
    pthread_mutex_lock(&lock);
    init();
    int r = synced(fd, real_fdatasync(fd));
    int e = errno;
    pthread_mutex_unlock(&lock);
    errno = e;
    return r;
}

/* A file that goes away takes its log along (its inode may be reused). */
static void gone(int dirfd, const char *path) {
    struct stat st;
    if (ready == 1 && fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
        st.st_nlink == 1)
        forget(st.st_dev, st.st_ino);
}

int unlink(const char *p) {
    pthread_mutex_lock(&lock);
    init();
    gone(AT_FDCWD, p);
    int r = real_unlink(p);
    int e = errno;
    pthread_mutex_unlock(&lock);
    errno = e;
    return r;
}

int unlinkat(int d, const char *p, int flags) {
    pthread_mutex_lock(&lock);
    init();
    if (!(flags & AT_REMOVEDIR))
        gone(d, p);
    int r = real_unlinkat(d, p, flags);
    int e = errno;
    pthread_mutex_unlock(&lock);
    errno = e;
    return r;
}

/* A renamed file's log follows it to its new path; the file replaced is gone. */
static int do_rename(int od, const char *o, int nd, const char *n) {
    struct stat st;
    int have = ready == 1 && fstatat(od, o, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
    gone(nd, n);
    int r = od == AT_FDCWD && nd == AT_FDCWD ? real_rename(o, n) : real_renameat(od, o, nd, n);
    int e = errno;
    if (r == 0 && have) {
        char pname[PATH_MAX], full[PATH_MAX];
        log_name(pname, sizeof pname, st.st_dev, st.st_ino, "path");
        int fd = openat(nd, n, O_RDONLY);
        if (fd >= 0) {
            char link[64];
            snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
            ssize_t len = readlink(link, full, sizeof full - 1);
            close(fd);
            if (len > 0 && access(pname, F_OK) == 0) {
                int p = open(pname, O_WRONLY | O_TRUNC);
                if (p >= 0) {
                    real_write(p, full, (size_t)len);
                    close(p);
                }
            }
        }
    }
    errno = e;
    return r;
}

int rename(const char *o, const char *n) {
    pthread_mutex_lock(&lock);
    init();
    int r = do_rename(AT_FDCWD, o, AT_FDCWD, n);
    int e = errno;
    pthread_mutex_unlock(&lock);
    errno = e;
    return r;
}

int renameat(int od, const char *o, int nd, const char *n) {
    pthread_mutex_lock(&lock);
    init();
    int r = do_rename(od, o, nd, n);
    int e = errno;
    pthread_mutex_unlock(&lock);
    errno = e;
    return r;
}
