package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/fengqiao/fengqiao/server/hub"
)

// tlsFlags are a hub's HTTPS flags.
type tlsFlags struct {
	on        *bool
	cert, key *string
}

func addTLSFlags(fs *flag.FlagSet) tlsFlags {
	return tlsFlags{
		on:   fs.Bool("tls", false, "以 HTTPS 提供服务，证书由中心密钥签发（已登记的站点据其登记时的中心密钥验证，无需另装证书） / serve HTTPS with a certificate issued by the hub key (enrolled stations verify it by the key they enrolled with; nothing to install)"),
		cert: fs.String("tls-cert", "", "改用此证书文件（PEM，例如单位 CA 签发，浏览器可信）；需同时给 --tls-key / serve HTTPS with this certificate (PEM, e.g. from your organisation's CA, which browsers trust) instead; needs --tls-key"),
		key:  fs.String("tls-key", "", "--tls-cert 的私钥文件（PEM） / the private key (PEM) of --tls-cert"),
	}
}

// tlsSettings are the values of tlsFlags.
type tlsSettings struct {
	on        bool
	cert, key string
}

func (f tlsFlags) settings() (tlsSettings, error) {
	s := tlsSettings{on: *f.on || *f.cert != "", cert: *f.cert, key: *f.key}
	if (s.cert == "") != (s.key == "") {
		return s, usageErrorf("--tls-cert and --tls-key go together / --tls-cert 与 --tls-key 须同时给出")
	}
	return s, nil
}

// scheme is the URL scheme the hub serves.
func (s tlsSettings) scheme() string {
	if s.on {
		return "https"
	}
	return "http"
}

// listener wraps ln in TLS when s is on: with the operator's certificate, or with serving
// (a member's certificate, issued by the hub key once it is known). It returns ln as it is
// when s is off.
func (s tlsSettings) listener(ln net.Listener, serving *hub.ServingCert) (net.Listener, error) {
	if !s.on {
		return ln, nil
	}
	if s.cert != "" {
		cert, err := tls.LoadX509KeyPair(s.cert, s.key)
		if err != nil {
			return nil, fmt.Errorf("--tls-cert %s: %w", s.cert, err)
		}
		return tls.NewListener(ln, &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}), nil
	}
	return tls.NewListener(ln, serving.ServerConfig()), nil
}

// newServingCert returns the certificate holder of a hub serving its own certificate (nil
// when TLS is off or the operator's certificate is served).
func (s tlsSettings) newServingCert() (*hub.ServingCert, error) {
	if !s.on || s.cert != "" {
		return nil, nil
	}
	return hub.NewServingCert(time.Now())
}

// withScheme turns a host:port or an http:// URL into one of scheme.
func withScheme(scheme, u string) string {
	u = strings.TrimPrefix(strings.TrimPrefix(u, "https://"), "http://")
	return scheme + "://" + u
}

// operatorClient is the HTTP client of an operator's command toward a hub (status,
// remove-member). A hub serving its own certificate (--tls) is verified by the stations
// that pinned its key, not by the system's roots; an operator's command holds no key, so
// skipVerify accepts any certificate (the traffic is still encrypted, but a machine in
// the middle could read what is sent: use it on the hub's own network).
func operatorClient(skipVerify bool, timeout time.Duration) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if skipVerify {
		tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: true}
	}
	return &http.Client{Transport: tr, Timeout: timeout}
}

const tlsSkipVerifyUsage = "接受中心的任何 TLS 证书（以 --tls 自签证书运行的中心需要；仅在可信网络上使用） / accept any TLS certificate of the hub (needed for a hub serving its own --tls certificate; use on a network you trust)"
