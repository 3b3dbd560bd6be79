package proxy

// Glitch counting, after HAProxy's tune.h2.fe.glitches-threshold: every
// event a correct client causes rarely but an abusive one causes by the
// thousand costs the connection a glitch. At three quarters of
// H2Options.MaxGlitches the connection gets a graceful GOAWAY (a slightly
// odd client reconnects without losing a request); at the threshold it is
// closed with GOAWAY ENHANCE_YOUR_CALM, counted, and logged once.
//
// What counts, one glitch each unless said:
//   - a stream reset by the client before its response head (rapid reset,
//     CVE-2023-44487);
//   - a HEADERS frame past SETTINGS_MAX_CONCURRENT_STREAMS;
//   - a malformed request or any other stream error the client caused;
//   - a header list over server.max_header_bytes (431);
//   - a DATA frame of length zero without END_STREAM;
//   - a WINDOW_UPDATE of less than 1 KiB into a window under 1 KiB (the
//     client makes us send tiny DATA frames); a client that returns window
//     for each small DATA frame it gets (an event stream) costs nothing;
//   - a header block in more than 4 frames averaging under 1 KiB: one per
//     16 frames (CONTINUATION flood, CVE-2024-27316 class);
//   - past 16 since the last new stream: each PING, SETTINGS, PRIORITY,
//     GOAWAY or unknown frame, each WINDOW_UPDATE or RST_STREAM for a
//     closed stream, and each WINDOW_UPDATE growing a window past the DATA
//     sent on it (floods of frames that cost us work or an answer).
// Two abuses close the connection at once, whatever the count: a header
// block over twice the header list limit or in more than 128 frames, and
// more streams waiting for a handler than max_concurrent_streams (streams
// reset faster than their handlers can finish).

import "golang.org/x/net/http2"

const ctrlAllowance = 16

// glitchLocked counts n glitches.
func (c *h2conn) glitchLocked(n int, why string) {
	c.glitches += n
	c.srv.count.glitches.Add(uint64(n))
	max := c.srv.opts.MaxGlitches
	if max <= 0 || c.closing {
		return
	}
	if c.glitches >= max {
		c.closeForGlitchesLocked(why)
		return
	}
	if c.glitches >= (3*max+3)/4 && !c.goAway {
		// As HAProxy: a GOAWAY naming a stream still to come, so requests
		// under way complete and the client moves to a new connection;
		// one that goes on here reaches the threshold.
		c.goAwayLocked(http2.ErrCodeNo, min(c.maxID+2*uint32(c.maxStreams), maxWindow))
		c.glitchGoAway = true
	}
}

// windowUpdateLocked judges a WINDOW_UPDATE of increment inc for a window
// (connection or stream) of size window, of which *unreturned bytes were
// sent and not yet returned. Returning what was consumed is normal in any
// step size (some clients return each small DATA frame of an event stream
// at once); tiny steps into a nearly closed window make us send tiny DATA
// frames (a glitch); growing the window past what was consumed is allowed
// a few times per stream (at its start), a flood past that.
func (c *h2conn) windowUpdateLocked(inc uint32, window int64, unreturned *int64) {
	if inc < 1024 && window < 1024 {
		c.glitchLocked(1, "tiny WINDOW_UPDATE")
	}
	if int64(inc) <= *unreturned {
		*unreturned -= int64(inc)
		return
	}
	*unreturned = 0
	c.ctrlFrameLocked("WINDOW_UPDATE flood")
}

// ctrlFrameLocked counts a frame that makes no request progress.
func (c *h2conn) ctrlFrameLocked(why string) {
	c.ctrl++
	if c.ctrl > ctrlAllowance {
		c.glitchLocked(1, why)
	}
}

// closeForGlitchesLocked closes the connection with ENHANCE_YOUR_CALM,
// counts it and logs one line.
func (c *h2conn) closeForGlitchesLocked(why string) {
	if c.closing {
		return
	}
	c.srv.count.glitchCloses.Add(1)
	c.srv.opts.Logger.Warn().Str("client", remoteString(c.info.RemoteAddr)).Int("glitches", c.glitches).
		Int("http2_glitches", c.srv.opts.MaxGlitches).Str("last", why).Uint32("last_stream", c.maxID).
		Msg("http2: abusive client: connection closed with GOAWAY ENHANCE_YOUR_CALM (server.http2_glitches)")
	c.fatalLocked(http2.ErrCodeEnhanceYourCalm, why)
}
