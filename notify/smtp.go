package notify

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/url"
	"os"
	"strings"
	"time"
)

// SMTP sends mail through one server with net/smtp. It opens a connection
// per mail: notifications are rare and a pooled connection would only go
// stale between SLA breaches.
type SMTP struct {
	addr        string // host:port
	host        string
	from        string
	auth        smtp.Auth
	implicitTLS bool        // smtps://: TLS from the first byte
	tlsConfig   *tls.Config // for STARTTLS and smtps
}

// ParseSMTPURL reads LOOPDESK_SMTP_URL:
//
//	smtp://user:pass@host:587?from=loopdesk@example.com   STARTTLS when offered
//	smtps://user:pass@host:465?from=...                   TLS from the start
//	...&ca=/etc/loopdesk/mail-ca.pem                       trust this CA (PEM) for the server's certificate
//
// from is required unless the user name is an email address. Credentials
// are only sent over TLS (or to localhost): net/smtp's PLAIN auth refuses
// otherwise. The server's certificate is always verified, against the
// system's roots or, with ca, that file's (a relay with an internal CA).
func ParseSMTPURL(raw string) (*SMTP, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("LOOPDESK_SMTP_URL is not a URL: write it like smtp://user:pass@host:587?from=loopdesk@example.com")
	}
	m := &SMTP{}
	port := "25"
	switch u.Scheme {
	case "smtp":
	case "smtps":
		m.implicitTLS, port = true, "465"
	default:
		return nil, fmt.Errorf("LOOPDESK_SMTP_URL scheme %q: use smtp:// (STARTTLS when the server offers it) or smtps://", u.Scheme)
	}
	m.host = u.Hostname()
	if m.host == "" {
		return nil, fmt.Errorf("LOOPDESK_SMTP_URL has no host: write it like smtp://host:587?from=loopdesk@example.com")
	}
	if p := u.Port(); p != "" {
		port = p
	}
	m.addr = net.JoinHostPort(m.host, port)
	m.tlsConfig = &tls.Config{ServerName: m.host, MinVersion: tls.VersionTLS12}
	if ca := u.Query().Get("ca"); ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return nil, fmt.Errorf("LOOPDESK_SMTP_URL ca=%s: %w", ca, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("LOOPDESK_SMTP_URL ca=%s holds no PEM certificate", ca)
		}
		m.tlsConfig.RootCAs = pool
	}
	from := u.Query().Get("from")
	if from == "" && u.User != nil && strings.Contains(u.User.Username(), "@") {
		from = u.User.Username()
	}
	a, err := mail.ParseAddress(from)
	if err != nil {
		return nil, fmt.Errorf("LOOPDESK_SMTP_URL needs ?from=<sender address> (got %q)", from)
	}
	m.from = a.Address
	if u.User != nil {
		pass, _ := u.User.Password()
		m.auth = smtp.PlainAuth("", u.User.Username(), pass, m.host)
	}
	return m, nil
}

// From is the sender address.
func (m *SMTP) From() string { return m.from }

// Addr is the server's host:port.
func (m *SMTP) Addr() string { return m.addr }

// Send delivers one mail, giving up at ctx's deadline.
func (m *SMTP) Send(ctx context.Context, e Email) error {
	to, err := mail.ParseAddress(e.To)
	if err != nil {
		return fmt.Errorf("recipient %q: %w", e.To, err)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", m.addr)
	if err != nil {
		return fmt.Errorf("smtp %s: %w", m.addr, err)
	}
	defer conn.Close()
	// net/smtp takes no context: the deadline bounds every read and write,
	// and a cancelled ctx (shutdown) closes the connection under it.
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if m.implicitTLS {
		conn = tls.Client(conn, m.tlsConfig)
	}
	c, err := smtp.NewClient(conn, m.host)
	if err != nil {
		return fmt.Errorf("smtp %s: %w", m.addr, err)
	}
	defer c.Close()
	if err := m.session(c, to.Address, e); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("smtp %s: %w (%v)", m.addr, ctx.Err(), err)
		}
		return fmt.Errorf("smtp %s: %w", m.addr, err)
	}
	return nil
}

func (m *SMTP) session(c *smtp.Client, to string, e Email) error {
	if err := c.Hello("localhost"); err != nil {
		return err
	}
	if !m.implicitTLS {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(m.tlsConfig); err != nil {
				return err
			}
		}
	}
	if m.auth != nil {
		if ok, _ := c.Extension("AUTH"); !ok {
			return fmt.Errorf("the server does not offer AUTH but the URL has credentials")
		}
		if err := c.Auth(m.auth); err != nil {
			return err
		}
	}
	if err := c.Mail(m.from); err != nil {
		return err
	}
	if err := c.Rcpt(to); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(m.message(to, e)); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

// message renders a plain-text UTF-8 mail. The body is quoted-printable so
// Chinese text and long lines survive servers without 8BITMIME.
func (m *SMTP) message(to string, e Email) []byte {
	var b strings.Builder
	id := make([]byte, 12)
	rand.Read(id)
	hdr := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	hdr("From", (&mail.Address{Name: "Loopdesk", Address: m.from}).String())
	hdr("To", (&mail.Address{Address: to}).String())
	hdr("Subject", mime.QEncoding.Encode("utf-8", oneLine(e.Subject)))
	hdr("Date", time.Now().UTC().Format(time.RFC1123Z))
	hdr("Message-ID", "<"+hex.EncodeToString(id)+"@"+m.domain()+">")
	hdr("MIME-Version", "1.0")
	hdr("Content-Type", "text/plain; charset=utf-8")
	hdr("Content-Transfer-Encoding", "quoted-printable")
	hdr("Auto-Submitted", "auto-generated") // RFC 3834: no vacation replies
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	qp.Write([]byte(strings.ReplaceAll(e.Body, "\r\n", "\n")))
	qp.Close()
	return []byte(b.String())
}

func (m *SMTP) domain() string {
	if _, d, ok := strings.Cut(m.from, "@"); ok {
		return d
	}
	return "loopdesk.local"
}
