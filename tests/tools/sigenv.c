/* SPDX-License-Identifier: MIT */
/*
 * sigenv [--ignore SIG]... [--block SIG]... [--itimer MS] [--vtimer MS] -- COMMAND [ARG]...:
 * run COMMAND with the signal state a hostile (or careless) caller can give it: signals
 * ignored or blocked, interval timers armed (real and virtual). For the lab's attack tests of
 * vmrun and vmrun-helper, which must reset all of it.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

static int signum(const char *s)
{
	static const struct { const char *name; int sig; } sigs[] = {
		{ "CHLD", SIGCHLD }, { "INT", SIGINT },   { "TERM", SIGTERM }, { "HUP", SIGHUP },
		{ "PIPE", SIGPIPE }, { "ALRM", SIGALRM }, { "QUIT", SIGQUIT }, { "TSTP", SIGTSTP },
		{ "XFSZ", SIGXFSZ }, { "USR1", SIGUSR1 },
	};

	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (strcmp(s, sigs[i].name) == 0)
			return sigs[i].sig;
	fprintf(stderr, "sigenv: unknown signal %s\n", s);
	exit(2);
}

static void timer(int which, const char *ms)
{
	long n = strtol(ms, NULL, 10);
	struct itimerval t = { { n / 1000, (n % 1000) * 1000 }, { n / 1000, (n % 1000) * 1000 } };

	if (setitimer(which, &t, NULL) < 0) {
		perror("sigenv: setitimer");
		exit(2);
	}
}

int main(int argc, char **argv)
{
	sigset_t block;
	int i = 1;

	sigemptyset(&block);
	for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (i + 1 >= argc)
			break;
		if (strcmp(argv[i], "--ignore") == 0)
			signal(signum(argv[++i]), SIG_IGN);
		else if (strcmp(argv[i], "--block") == 0)
			sigaddset(&block, signum(argv[++i]));
		else if (strcmp(argv[i], "--itimer") == 0)
			timer(ITIMER_REAL, argv[++i]);
		else if (strcmp(argv[i], "--vtimer") == 0)
			timer(ITIMER_VIRTUAL, argv[++i]);
		else
			break;
	}
	if (i >= argc - 1 || strcmp(argv[i], "--") != 0) {
		fprintf(stderr, "usage: sigenv [--ignore SIG]... [--block SIG]... [--itimer MS] "
				"[--vtimer MS] -- COMMAND [ARG]...\n");
		return 2;
	}
	sigprocmask(SIG_BLOCK, &block, NULL);
	/* The timers and dispositions (but handlers) survive exec: that is the point. */
	execvp(argv[i + 1], argv + i + 1);
	perror("sigenv: exec");
	return 127;
}
