package audit

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"strings"

	"tlsfront/headers"
)

// ClientAuth is what the server does about client certificates: whether
// it asks for one (a CertificateRequest), whether it refuses a client that
// sends none, and which CAs it names as acceptable.
type ClientAuth struct {
	Check
	// Requested: the server sent a CertificateRequest.
	Requested bool `json:"requested"`
	// Required: the server ended the connection when the client sent no
	// certificate (handshake_failure before TLS 1.3, certificate_required
	// after it).
	Required bool `json:"required"`
	// CAs are the certificate_authorities of the request, RFC 2253 (as
	// Apache 2.4's mod_ssl prints DNs). Empty: the server names none (any
	// certificate may do).
	CAs []string `json:"cas"`
}

// probeClientAuth handshakes with Go's client offering no certificate,
// records the CertificateRequest, and sends one HTTP/1.1 request so that a
// TLS 1.3 server's verdict (sent after the client's Finished) is read.
func (a *auditor) probeClientAuth(ctx context.Context) ClientAuth {
	var ca ClientAuth
	cfg := a.clientConfig(nil, "http/1.1")
	cfg.GetClientCertificate = func(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
		ca.Requested = true
		for _, der := range cri.AcceptableCAs {
			ca.CAs = append(ca.CAs, headers.FormatDN(der, false))
		}
		return &tls.Certificate{}, nil
	}
	c, err := a.dialTLS(ctx, cfg)
	if err == nil {
		defer c.Close()
		host := a.sni
		if host == "" {
			host = a.ip
		}
		_, err = fmt.Fprintf(c, "HEAD / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", host)
		if err == nil {
			_, err = bufio.NewReader(c).ReadString('\n')
		}
		if err == io.EOF {
			err = nil // closed after answering: no verdict about the certificate
		}
	}
	refused := err != nil && (strings.Contains(err.Error(), "certificate required") || strings.Contains(err.Error(), "handshake failure") ||
		strings.Contains(err.Error(), "bad certificate"))
	switch {
	case !ca.Requested && err != nil:
		ca.Check = failed(err)
	case !ca.Requested:
		ca.Check = no("the server asks for no client certificate")
	case refused:
		ca.Required = true
		ca.Check = yes("the server asks for a client certificate and refuses a client without one (%s)", describeErr(err))
	case err != nil:
		ca.Check = failed(fmt.Errorf("the server asks for a client certificate; then: %w", err))
	default:
		ca.Check = yes("the server asks for a client certificate and serves a client without one")
	}
	return ca
}
