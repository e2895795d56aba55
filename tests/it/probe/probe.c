/* probe: a server for superd's tests. Reports what it inherited, on fd 1 (the connection):
 * argv, selected environment, open descriptors and their flags, credentials, umask, nice,
 * limits, session, signal state, working directory and the socket's peer family. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv) {
    for (int i = 0; i < argc; i++) printf("argv[%d]=%s\n", i, argv[i]);
    int nenv = 0;
    for (char **e = environ; *e; e++) {
        nenv++;
        printf("env=%s\n", *e);
    }
    printf("envcount=%d\n", nenv);
    DIR *d = opendir("/proc/self/fd");
    int dfd = d ? dirfd(d) : -1;
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        int fd = atoi(de->d_name);
        if (fd == dfd) continue;
        int fl = fcntl(fd, F_GETFL), fdfl = fcntl(fd, F_GETFD);
        printf("fd=%d nonblock=%d cloexec=%d\n", fd, (fl & O_NONBLOCK) != 0, (fdfl & FD_CLOEXEC) != 0);
    }
    if (d) closedir(d);
    gid_t groups[64];
    int ng = getgroups(64, groups);
    printf("uid=%d gid=%d euid=%d egid=%d ngroups=%d\n", getuid(), getgid(), geteuid(), getegid(), ng);
    for (int i = 0; i < ng; i++) printf("group=%d\n", groups[i]);
    mode_t m = umask(0);
    printf("umask=%03o\n", m);
    errno = 0;
    printf("nice=%d\n", getpriority(PRIO_PROCESS, 0));
    struct { int r; const char *n; } lims[] = {
        {RLIMIT_AS, "as"}, {RLIMIT_CPU, "cpu"}, {RLIMIT_DATA, "data"},
        {RLIMIT_NOFILE, "files"}, {RLIMIT_RSS, "rss"}, {RLIMIT_STACK, "stack"}};
    for (unsigned i = 0; i < sizeof lims / sizeof lims[0]; i++) {
        struct rlimit rl;
        getrlimit(lims[i].r, &rl);
        printf("rlimit_%s=%lld/%lld\n", lims[i].n, (long long)rl.rlim_cur, (long long)rl.rlim_max);
    }
    printf("sid_is_pid=%d\n", getsid(0) == getpid());
    char line[256];
    FILE *st = fopen("/proc/self/status", "r");
    while (st && fgets(line, sizeof line, st))
        if (!strncmp(line, "SigIgn:", 7) || !strncmp(line, "SigBlk:", 7)) fputs(line, stdout);
    if (st) fclose(st);
    char cwd[512];
    if (getcwd(cwd, sizeof cwd)) printf("cwd=%s\n", cwd);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getpeername(0, (struct sockaddr *)&ss, &sl) == 0)
        printf("peer_family=%s\n", ss.ss_family == AF_INET ? "inet" : ss.ss_family == AF_INET6 ? "inet6" : "other");
    int acc = 0;
    socklen_t al = sizeof acc;
    if (getsockopt(0, SOL_SOCKET, SO_ACCEPTCONN, &acc, &al) == 0) printf("listening=%d\n", acc);
    int ka = 0;
    socklen_t kl = sizeof ka;
    if (getsockopt(0, SOL_SOCKET, SO_KEEPALIVE, &ka, &kl) == 0) printf("keepalive=%d\n", ka);
    struct linger lg;
    socklen_t ll = sizeof lg;
    if (getsockopt(0, SOL_SOCKET, SO_LINGER, &lg, &ll) == 0)
        printf("linger=%d/%d\n", lg.l_onoff, lg.l_linger);
    printf("end\n");
    fflush(stdout);
    return 0;
}
