/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NASDAQ TotalView-ITCH 5.0 message layout (docs/protocol.md §2): the length of every known
 * message type and the offset of its 8-byte space-padded stock field. Pure data and
 * inline accessors over `const uint8_t *`; no mbuf types.
 */
#ifndef ASTER_ITCH50_H
#define ASTER_ITCH50_H

#include <stdint.h>

#include "../common/wire.h"

#define ITCH50_LOCATE_OFF    1
#define ITCH50_TRACKING_OFF  3
#define ITCH50_TIMESTAMP_OFF 5
#define ITCH50_STOCK_LEN     8
#define ITCH50_MIN_ROUTABLE  3 /* type + locate */

/* itch50_len[type]: exact message length, 0 for a type not in the table. */
extern const uint8_t itch50_len[256];
/* itch50_stock_off[type]: offset of the stock field, 0 when the type has none. */
extern const uint8_t itch50_stock_off[256];

static inline uint16_t itch50_locate(const uint8_t *msg)
{
	return wire_get16(msg + 1);
}

/* The stock field as a u64 exactly as on the wire (8 bytes, space padded). */
static inline uint64_t itch50_stock_key(const uint8_t *stock)
{
	uint64_t k;
	__builtin_memcpy(&k, stock, sizeof(k));
	return k;
}

/* Length of the symbol with trailing spaces removed (0..8). */
unsigned int itch50_symbol_len(const uint8_t *stock);

#endif
