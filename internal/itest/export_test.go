package itest

// ParseAccessLine exposes the access-log parser to the external tests.
var ParseAccessLine = parseAccessLine
