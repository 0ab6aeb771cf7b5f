/* vmspec host janitor: "agent --janitor", built into the same program as agent.c.
 *
 * Reads records from stdin, one per line: "pid N" (a process to kill), "sysctl PATH VALUE" (a
 * setting to write back), "forget PATH" (a setting vmspec restored itself), "rmtree PATH" (a
 * directory to remove), "rmdir PATH" (a memory cgroup to remove) and "reset" (vmspec cleaned up:
 * forget everything). When stdin reaches end of file (vmspec exited, or was killed, even by
 * SIGKILL) it kills every recorded process that is still alive (through pidfds, so a reused pid
 * is never hit), writes every setting back, removes the memory groups and the directories, and
 * exits. SIGINT and SIGHUP are ignored: Ctrl-C reaches vmspec, which cleans up first.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_RECORDS 4096
#define LINE_LEN 4096

static int pidfds[MAX_RECORDS];
static int npids;
static char *settings[MAX_RECORDS][2];
static int nsettings;
static char *trees[MAX_RECORDS];
static int ntrees;
static char *dirs[MAX_RECORDS];
static int ndirs;
static char jline[LINE_LEN];
static char jbuf[LINE_LEN];
static size_t jstart, jend;

static void put_all(int fd, const char *buf, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, buf, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        buf += w;
        n -= (size_t)w;
    }
}

/* Read one line of stdin into jline; return 0 at end of file. */
static int next_line(void)
{
    size_t len = 0;
    for (;;) {
        while (jstart < jend) {
            char c = jbuf[jstart++];
            if (c == '\n') {
                jline[len] = '\0';
                return 1;
            }
            if (len + 1 < sizeof jline)
                jline[len++] = c;
        }
        ssize_t n = read(0, jbuf, sizeof jbuf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return 0;
        jstart = 0;
        jend = (size_t)n;
    }
}

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (type == FTW_DP || type == FTW_D)
        rmdir(path);
    else
        unlink(path);
    return 0;
}

static void cleanup(void)
{
    for (int i = 0; i < npids; i++) {
        syscall(SYS_pidfd_send_signal, pidfds[i], SIGKILL, NULL, 0);
        close(pidfds[i]);
    }
    npids = 0;
    for (int i = nsettings - 1; i >= 0; i--) {
        int fd = open(settings[i][0], O_WRONLY);
        if (fd >= 0) {
            put_all(fd, settings[i][1], strlen(settings[i][1]));
            close(fd);
        }
    }
    nsettings = 0;
    /* a memory group can be removed only once its processes are gone: retry for two seconds */
    for (int i = ndirs - 1; i >= 0; i--) {
        for (int tries = 0; tries < 200 && rmdir(dirs[i]) != 0 && errno == EBUSY; tries++)
            usleep(10000);
    }
    ndirs = 0;
    for (int i = 0; i < ntrees; i++)
        nftw(trees[i], rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    ntrees = 0;
}

int janitor(void)
{
    signal(SIGINT, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    while (next_line()) {
        if (!strncmp(jline, "pid ", 4) && npids < MAX_RECORDS) {
            int fd = (int)syscall(SYS_pidfd_open, (pid_t)atol(jline + 4), 0);
            if (fd >= 0)
                pidfds[npids++] = fd;
        } else if (!strncmp(jline, "sysctl ", 7) && nsettings < MAX_RECORDS) {
            char *sp = strchr(jline + 7, ' ');
            if (sp) {
                *sp = '\0';
                settings[nsettings][0] = strdup(jline + 7);
                settings[nsettings][1] = strdup(sp + 1);
                nsettings++;
            }
        } else if (!strncmp(jline, "forget ", 7)) {
            for (int i = 0; i < nsettings; i++) {
                if (!strcmp(settings[i][0], jline + 7)) {
                    settings[i][0] = settings[nsettings - 1][0];
                    settings[i][1] = settings[nsettings - 1][1];
                    nsettings--;
                    break;
                }
            }
        } else if (!strncmp(jline, "rmtree ", 7) && ntrees < MAX_RECORDS) {
            trees[ntrees++] = strdup(jline + 7);
        } else if (!strncmp(jline, "rmdir ", 6) && ndirs < MAX_RECORDS) {
            dirs[ndirs++] = strdup(jline + 6);
        } else if (!strcmp(jline, "reset")) {
            for (int i = 0; i < npids; i++)
                close(pidfds[i]);
            npids = nsettings = ntrees = ndirs = 0;
        } else if (!strcmp(jline, "ping")) {
            put_all(1, "ok\n", 3);
        }
    }
    cleanup();
    return 0;
}
