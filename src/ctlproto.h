/*
 * ctlproto.h - the control socket's wire format, shared by nfqspid and
 * nfqspictl
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Pure: no I/O, no globals.  Every message is one frame:
 *
 *	0       4        6       8        12       16
 *	| magic | version | type | flags  | length | payload (length bytes)
 *
 * all in network byte order, at most CTL_MAXMSG bytes in all.  The client
 * sends one CTL_T_REQUEST; the daemon answers with any number of
 * CTL_T_DATA frames (output, cut at line ends) and then exactly one
 * CTL_T_END (success) or CTL_T_ERROR (failure; the payload says why).
 * A listing of any size thus streams in bounded frames.
 *
 * A request's payload is the command and its arguments:
 *
 *	u16 argc, then argc times: u16 length, length bytes (no NUL)
 */
#ifndef NFQSPI_CTLPROTO_H
#define NFQSPI_CTLPROTO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pkt.h"

#define CTL_MAGIC	0x4e514354u	/* "NQCT" */
#define CTL_VERSION	1
#define CTL_HDRLEN	16
#define CTL_MAXMSG	65536		/* a whole frame, header included */
#define CTL_MAXPAYLOAD	(CTL_MAXMSG - CTL_HDRLEN)
#define CTL_MAXARGS	32		/* command included */
#define CTL_MAXARGLEN	255

#define CTL_DEFAULT_SOCKET	"/run/nfqspid.sock"

enum ctl_type {
	CTL_T_REQUEST = 1,
	CTL_T_DATA,
	CTL_T_END,
	CTL_T_ERROR
};

/* flags */
#define CTL_F_JSON	0x00000001u	/* answer in JSON */
#define CTL_F_ALL	(CTL_F_JSON)

struct ctl_msg {
	uint16_t	 version;
	uint16_t	 type;		/* enum ctl_type */
	uint32_t	 flags;
	const uint8_t	*payload;	/* points into the decoded buffer */
	size_t		 len;
};

struct ctl_request {
	uint32_t	 flags;
	int		 argc;		/* >= 1: argv[0] is the command */
	char		*argv[CTL_MAXARGS + 1];	/* NULL-terminated, into str */
	char		 str[CTL_MAXARGS * (CTL_MAXARGLEN + 1)];
};

/*
 * Check the header at buf.  Returns the whole frame's length (header and
 * payload), or -1 with errno:
 *   EBADMSG          fewer than CTL_HDRLEN bytes, a bad magic, or an
 *                    unknown type
 *   EPROTONOSUPPORT  another protocol version (m->version tells which)
 *   EMSGSIZE         the frame would be larger than CTL_MAXMSG
 *   EINVAL           unknown flags
 * m may be NULL; otherwise its header fields are filled in (payload stays
 * NULL).
 */
ssize_t	 ctl_hdr_decode(const void *buf, size_t len, struct ctl_msg *m);

/*
 * For a reader that receives bytes a piece at a time: returns the length
 * of the complete frame at the start of buf, 0 if what is there is a
 * valid beginning that needs more bytes, or -1 (errno as above) if it
 * can never become a valid frame.
 */
ssize_t	 ctl_frame_len(const void *buf, size_t len);

/*
 * Decode exactly one frame that fills buf (len bytes).  Returns 0, or -1
 * with errno (as ctl_hdr_decode; a truncated frame or bytes after it are
 * EBADMSG).  m->payload points into buf.
 */
int	 ctl_decode(const void *buf, size_t len, struct ctl_msg *m);

/* Write a header for a payload of plen bytes.  Returns 0, or -1 with
   errno EINVAL (type, flags) or EMSGSIZE (plen too large). */
int	 ctl_hdr_encode(uint8_t hdr[CTL_HDRLEN], uint16_t type,
	    uint32_t flags, size_t plen);

/*
 * Write a whole frame into buf (size len).  Returns its length, or -1
 * with errno EINVAL, EMSGSIZE or ENOSPC (buf too small).
 */
ssize_t	 ctl_encode(void *buf, size_t len, uint16_t type, uint32_t flags,
	    const void *payload, size_t plen);

/*
 * A request frame for argv[0..argc-1].  Returns its length, or -1 with
 * errno EINVAL (argc out of 1..CTL_MAXARGS, an argument longer than
 * CTL_MAXARGLEN), EMSGSIZE or ENOSPC.
 */
ssize_t	 ctl_encode_request(void *buf, size_t len, uint32_t flags, int argc,
	    char *const argv[]);

/*
 * The arguments of a decoded CTL_T_REQUEST.  Returns 0, or -1 with errno
 * EBADMSG (wrong type, counts or lengths that do not add up to the
 * payload, a NUL inside an argument) or EINVAL (too many or too long
 * arguments).
 */
int	 ctl_decode_request(const struct ctl_msg *m, struct ctl_request *r);

/* "request", "data", "end", "error", or NULL */
const char *ctl_type_name(int type);

/*
 * The commands the daemon knows (NULL-terminated), so nfqspictl can say
 * "unknown command" without asking.
 */
extern const char *const ctl_commands[];
int	 ctl_command_known(const char *cmd);

/*
 * s as a JSON string, quotes included.  Returns the length snprintf
 * would have written (the output is always terminated if len > 0).
 */
int	 ctl_json_str(char *buf, size_t len, const char *s);

#endif /* NFQSPI_CTLPROTO_H */
