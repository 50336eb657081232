/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NASDAQ TotalView-ITCH 5.0 message tables (docs/protocol.md §2). A type absent from the table
 * has length 0 and is routed by its locate like any other message (docs/protocol.md §3.2).
 */
#include "itch50.h"

/* docs/protocol.md §2 table, column "len". */
const uint8_t itch50_len[256] = {
    ['S'] = 12, ['R'] = 39, ['H'] = 25, ['Y'] = 20, ['L'] = 26, ['V'] = 35, ['W'] = 12, ['J'] = 35,
    ['A'] = 36, ['F'] = 40, ['E'] = 31, ['C'] = 36, ['X'] = 23, ['D'] = 19, ['U'] = 35, ['h'] = 21,
    ['P'] = 44, ['Q'] = 40, ['B'] = 19, ['I'] = 50, ['N'] = 20, ['O'] = 48, ['K'] = 28,
};

/*
 * docs/protocol.md §2 table, column "stock". Every offset is >= 11 (after type, locate,
 * tracking number and timestamp), so 0 safely means "no stock field".
 */
const uint8_t itch50_stock_off[256] = {
    ['R'] = 11, ['H'] = 11, ['Y'] = 11, ['L'] = 15, ['J'] = 11, ['A'] = 24, ['F'] = 24,
    ['h'] = 11, ['P'] = 24, ['Q'] = 19, ['I'] = 28, ['N'] = 11, ['O'] = 11, ['K'] = 11,
};

unsigned int itch50_symbol_len(const uint8_t *stock)
{
	unsigned int n = ITCH50_STOCK_LEN;

	/* docs/protocol.md §3.4: symbols are matched with trailing spaces removed. */
	while (n > 0 && stock[n - 1] == ' ')
		n--;
	return n;
}
