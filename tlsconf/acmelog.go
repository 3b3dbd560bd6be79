package tlsconf

import (
	"strings"

	"github.com/rs/zerolog"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// zerologCore is a zapcore.Core that writes certmagic's zap entries to a
// zerolog.Logger, so that certmagic logs where and how tlsfront logs. zap's
// info level becomes zerolog's debug: certmagic narrates every lock and
// poll at info, and ACME logs the outcomes that matter itself.
type zerologCore struct {
	log zerolog.Logger
}

// newZapLogger returns a zap.Logger writing to log. A Fatal or Panic
// entry (certmagic writes none) ends the goroutine, never the process.
func newZapLogger(log zerolog.Logger) *zap.Logger {
	return zap.New(zerologCore{log: log}, zap.WithFatalHook(zapcore.WriteThenGoexit))
}

// zerologLevel maps a zap level to ours.
func zerologLevel(l zapcore.Level) zerolog.Level {
	switch {
	case l <= zapcore.InfoLevel:
		return zerolog.DebugLevel
	case l == zapcore.WarnLevel:
		return zerolog.WarnLevel
	default:
		return zerolog.ErrorLevel
	}
}

func (c zerologCore) Enabled(l zapcore.Level) bool {
	zl := zerologLevel(l)
	return zl >= c.log.GetLevel() && zl >= zerolog.GlobalLevel()
}

func (c zerologCore) With(fields []zapcore.Field) zapcore.Core {
	if len(fields) == 0 {
		return c
	}
	return zerologCore{log: c.log.With().Fields(encodeFields(fields)).Logger()}
}

func (c zerologCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c zerologCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	ev := c.log.WithLevel(zerologLevel(e.Level))
	name := "certmagic"
	if n := strings.Trim(e.LoggerName, "."); n != "" {
		name += "." + n
	}
	ev = ev.Str("logger", name)
	if len(fields) > 0 {
		ev = ev.Fields(encodeFields(fields))
	}
	ev.Msg(e.Message)
	return nil
}

func (zerologCore) Sync() error { return nil }

// encodeFields turns zap fields into a map zerolog can write.
func encodeFields(fields []zapcore.Field) map[string]any {
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range fields {
		f.AddTo(enc)
	}
	return enc.Fields
}
