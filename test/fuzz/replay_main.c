/*
 * replay_main.c — replays a fuzz target's committed corpus as a TAP test,
 * so `make check` exercises every parser with the inputs fuzzing found,
 * under whatever sanitizers the build has. Each input is copied into an
 * exact-size heap buffer so an over-read is caught.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) return 0;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
	size_t got = n > 0 ? fread(buf, 1, (size_t)n, f) : 0;
	fclose(f);
	LLVMFuzzerTestOneInput(buf, got);
	free(buf);
	return 1;
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "test/fuzz/corpus/" FUZZ_NAME;
	DIR *d = opendir(dir);
	int count = 0;
	if (d) {
		struct dirent *e;
		while ((e = readdir(d))) {
			if (e->d_name[0] == '.') continue;
			char path[4096];
			snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
			count += replay_file(path);
		}
		closedir(d);
	}
	ok(count > 0, "replayed %d corpus inputs of %s without a crash", count, FUZZ_NAME);
	return done_testing();
}
