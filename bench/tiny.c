/* The tiny server every benchmarked daemon spawns: write one line to the
 * connection (fd 1) and exit. Built with `gcc -O2 -static` so exec cost is
 * the kernel's, not the dynamic loader's. Built a second time with
 * -DDELAY_MS=50 as the slow server of the flood figure: it sleeps first. */
#include <time.h>
#include <unistd.h>

int main(void)
{
	static const char msg[] = "hello\n";
#ifdef DELAY_MS
	struct timespec ts = { DELAY_MS / 1000, (DELAY_MS % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0)
		;
#endif
	ssize_t n = write(1, msg, sizeof msg - 1);
	return n == (ssize_t)(sizeof msg - 1) ? 0 : 1;
}
