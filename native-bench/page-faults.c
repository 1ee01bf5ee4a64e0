// What fresh memory costs on this machine: a 64 MiB anonymous mapping written once per
// page (one fault per 4 KiB page), then the same after MADV_POPULATE_WRITE (the kernel maps
// every page in one call), then a second write of memory already mapped.
// Build and run: gcc -O2 native-bench/page-faults.c -o /tmp/page-faults && /tmp/page-faults
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

static double ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

int main(void) {
  const size_t n = (size_t)64 << 20, pages = n / 4096;
  char* p = mmap(0, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  double t0 = ms();
  for (size_t i = 0; i < n; i += 4096) p[i] = 1;
  double t1 = ms();
  char* q = mmap(0, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  double t2 = ms();
  int populated = madvise(q, n, 23 /* MADV_POPULATE_WRITE */) == 0;
  double t3 = ms();
  memset(q, 1, n);
  double t4 = ms();
  memset(q, 2, n);
  double t5 = ms();
  printf("fresh pages, one write each: %.2f us per 4 KiB page\n", (t1 - t0) * 1e3 / pages);
  printf("MADV_POPULATE_WRITE %s: %.2f us per page, then a first memset %.1f ms (%.2f us per page)\n",
         populated ? "ok" : "unsupported", (t3 - t2) * 1e3 / pages, t4 - t3, (t4 - t3) * 1e3 / pages);
  printf("memset of mapped memory: %.1f ms for 64 MiB\n", t5 - t4);
  return 0;
}
