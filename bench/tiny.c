/* The tiny server every benchmarked daemon spawns: write one line to the
 * connection (fd 1) and exit. Built with `gcc -O2 -static` so exec cost is
 * the kernel's, not the dynamic loader's. */
#include <unistd.h>

int main(void)
{
	static const char msg[] = "hello\n";
	ssize_t n = write(1, msg, sizeof msg - 1);
	return n == (ssize_t)(sizeof msg - 1) ? 0 : 1;
}
