/*
 * csprng.t — random bytes from the refilled buffer: different every time,
 * across refills, for any size.
 */
#include <string.h>

#include "csprng.h"
#include "tap.h"

int main(void)
{
	unsigned char a[16], b[16], big[3000];
	ok(csprng_bytes(a, sizeof a) && csprng_bytes(b, sizeof b), "two draws");
	ok(memcmp(a, b, sizeof a) != 0, "they differ");

	/* more than the buffer holds, then draws across refills */
	ok(csprng_bytes(big, sizeof big), "a draw larger than the buffer");
	int zero_runs = 0;
	for (size_t i = 0; i + 8 <= sizeof big; i += 8) {
		static const unsigned char z[8];
		zero_runs += !memcmp(big + i, z, 8);
	}
	is_int(zero_runs, 0, "no run of 8 zero bytes in it (a wiped buffer handed out again would show)");
	int same = 0;
	unsigned char prev[7] = { 0 };
	for (int i = 0; i < 1000; i++) {
		unsigned char cur[7];
		if (!csprng_bytes(cur, sizeof cur))
			break;
		same += !memcmp(cur, prev, sizeof cur);
		memcpy(prev, cur, sizeof cur);
	}
	is_int(same, 0, "1,000 draws of 7 bytes across several refills: no two in a row alike");
	ok(csprng_bytes(a, 0), "a draw of nothing");
	return done_testing();
}
