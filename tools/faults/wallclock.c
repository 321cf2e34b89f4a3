/* The clock fault's wall clock (tools/faults/environment.py), preloaded into every platform
 * process: CLOCK_REALTIME and what reads it (gettimeofday, time) and the times of files
 * (stat and its kin, so that a file written after the step is not an hour old to the process
 * that wrote it, as gunicorn's worker heartbeats would be) move by the seconds written in
 * WALLCLOCK_OFFSET_FILE, re-read at most once a second. CLOCK_MONOTONIC and sleeping are left
 * alone, as a stepped system clock leaves them. Waits until a wall-clock time (sem_timedwait:
 * Python's multiprocessing locks and queues, which django-q2's processes wait on) are given
 * the kernel's time of the caller's deadline, or they would wait the offset longer.
 *
 * Our own because libfaketime, which does this, breaks Python's time.sleep when the monotonic
 * clock is left alone in the 0.9.10 that Debian and PyPI ship (wolfcw/libfaketime#426).
 *
 * Build: cc -shared -fPIC -O2 -o wallclock.so wallclock.c -ldl */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>

static int (*real_clock_gettime)(clockid_t, struct timespec *);
static int (*real_stat)(const char *, struct stat *);
static int (*real_lstat)(const char *, struct stat *);
static int (*real_fstat)(int, struct stat *);
static int (*real_fstatat)(int, const char *, struct stat *, int);
static _Atomic long offset_seconds;
static _Atomic long next_read; /* CLOCK_MONOTONIC second of the next read of the file */
static __thread int reading;   /* fopen may read the clock: no recursion into the file */

static void offset_refresh(void) {
    struct timespec now;
    const char *path;
    FILE *file;
    long value;

    if (!real_clock_gettime)
        real_clock_gettime = dlsym(RTLD_NEXT, "clock_gettime");
    if (reading || real_clock_gettime(CLOCK_MONOTONIC, &now) != 0 || now.tv_sec < next_read)
        return;
    next_read = now.tv_sec + 1;
    path = getenv("WALLCLOCK_OFFSET_FILE");
    if (!path)
        return;
    reading = 1;
    file = fopen(path, "r");
    if (file) {
        if (fscanf(file, "%ld", &value) == 1)
            offset_seconds = value;
        fclose(file);
    }
    reading = 0;
}

int clock_gettime(clockid_t clock, struct timespec *ts) {
    int result;

    offset_refresh();
    result = real_clock_gettime(clock, ts);
    if (result == 0 && (clock == CLOCK_REALTIME || clock == CLOCK_REALTIME_COARSE))
        ts->tv_sec += offset_seconds;
    return result;
}

int gettimeofday(struct timeval *tv, void *tz) {
    struct timespec ts;
    int result = clock_gettime(CLOCK_REALTIME, &ts);

    (void)tz;
    if (result == 0 && tv) {
        tv->tv_sec = ts.tv_sec;
        tv->tv_usec = ts.tv_nsec / 1000;
    }
    return result;
}

time_t time(time_t *out) {
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    if (out)
        *out = ts.tv_sec;
    return ts.tv_sec;
}

static int moved(int result, struct stat *st) {
    if (result == 0 && st) {
        offset_refresh();
        st->st_atim.tv_sec += offset_seconds;
        st->st_mtim.tv_sec += offset_seconds;
        st->st_ctim.tv_sec += offset_seconds;
    }
    return result;
}

int stat(const char *path, struct stat *st) {
    if (!real_stat)
        real_stat = dlsym(RTLD_NEXT, "stat");
    return moved(real_stat(path, st), st);
}

int lstat(const char *path, struct stat *st) {
    if (!real_lstat)
        real_lstat = dlsym(RTLD_NEXT, "lstat");
    return moved(real_lstat(path, st), st);
}

int fstat(int fd, struct stat *st) {
    if (!real_fstat)
        real_fstat = dlsym(RTLD_NEXT, "fstat");
    return moved(real_fstat(fd, st), st);
}

int fstatat(int dirfd, const char *path, struct stat *st, int flags) {
    if (!real_fstatat)
        real_fstatat = dlsym(RTLD_NEXT, "fstatat");
    return moved(real_fstatat(dirfd, path, st, flags), st);
}

/* Programs built with 64-bit file offsets call these names (the same layout on 64-bit). */
static int moved64(int result, struct stat64 *st) {
    if (result == 0 && st) {
        offset_refresh();
        st->st_atim.tv_sec += offset_seconds;
        st->st_mtim.tv_sec += offset_seconds;
        st->st_ctim.tv_sec += offset_seconds;
    }
    return result;
}

int stat64(const char *path, struct stat64 *st) {
    static int (*real)(const char *, struct stat64 *);
    if (!real)
        real = dlsym(RTLD_NEXT, "stat64");
    return moved64(real(path, st), st);
}

int lstat64(const char *path, struct stat64 *st) {
    static int (*real)(const char *, struct stat64 *);
    if (!real)
        real = dlsym(RTLD_NEXT, "lstat64");
    return moved64(real(path, st), st);
}

int fstat64(int fd, struct stat64 *st) {
    static int (*real)(int, struct stat64 *);
    if (!real)
        real = dlsym(RTLD_NEXT, "fstat64");
    return moved64(real(fd, st), st);
}

int fstatat64(int dirfd, const char *path, struct stat64 *st, int flags) {
    static int (*real)(int, const char *, struct stat64 *, int);
    if (!real)
        real = dlsym(RTLD_NEXT, "fstatat64");
    return moved64(real(dirfd, path, st, flags), st);
}

/* A deadline on the shifted wall clock, as the kernel's clock reads it. */
static struct timespec unshifted(const struct timespec *deadline) {
    struct timespec real = *deadline;

    offset_refresh();
    real.tv_sec -= offset_seconds;
    return real;
}

int sem_timedwait(sem_t *sem, const struct timespec *deadline) {
    static int (*real)(sem_t *, const struct timespec *);
    struct timespec kernel;

    if (!real)
        real = dlsym(RTLD_NEXT, "sem_timedwait");
    if (!deadline)
        return real(sem, deadline);
    kernel = unshifted(deadline);
    return real(sem, &kernel);
}

int sem_clockwait(sem_t *sem, clockid_t clock, const struct timespec *deadline) {
    static int (*real)(sem_t *, clockid_t, const struct timespec *);
    struct timespec kernel;

    if (!real)
        real = dlsym(RTLD_NEXT, "sem_clockwait");
    if (!deadline || clock != CLOCK_REALTIME)
        return real(sem, clock, deadline);
    kernel = unshifted(deadline);
    return real(sem, clock, &kernel);
}

int clock_nanosleep(clockid_t clock, int flags, const struct timespec *request,
                    struct timespec *remain) {
    static int (*real)(clockid_t, int, const struct timespec *, struct timespec *);
    struct timespec kernel;

    if (!real)
        real = dlsym(RTLD_NEXT, "clock_nanosleep");
    if (!request || clock != CLOCK_REALTIME || !(flags & TIMER_ABSTIME))
        return real(clock, flags, request, remain);
    kernel = unshifted(request);
    return real(clock, flags, &kernel, remain);
}
