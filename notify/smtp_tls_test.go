package notify_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loopdesk/loopdesk/notify"
)

// testCA makes a CA and a certificate it signs for 127.0.0.1, and writes
// the CA's PEM to a file: what a relay with an internal CA looks like.
func testCA(t *testing.T) (server *tls.Config, caFile string) {
	t.Helper()
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	caKey, srvKey := key(), key()
	now := time.Now()
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Loopdesk test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "mail.test"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caFile = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{leafDER}, PrivateKey: srvKey}}}, caFile
}

func TestSMTPOverTLS(t *testing.T) {
	cfg, caFile := testCA(t)
	servers := map[string]*smtpServer{
		"smtp":  startSMTPWith(t, &smtpServer{starttls: cfg}, false, nil), // upgrades with STARTTLS
		"smtps": startSMTPWith(t, &smtpServer{}, true, cfg),               // TLS from the first byte
	}
	for scheme, srv := range servers {
		t.Run(scheme, func(t *testing.T) {
			base := scheme + "://bot:s3cret@" + srv.addr() + "?from=loopdesk@example.com"
			m, err := notify.ParseSMTPURL(base + "&ca=" + caFile)
			if err != nil {
				t.Fatal(err)
			}
			if err := m.Send(ctx, notify.Email{To: "agent@example.com", Subject: "SLA 违约", Body: "over TLS\n"}); err != nil {
				t.Fatalf("send: %v", err)
			}
			got := srv.messages()
			if len(got) != 1 || !got[0].tls || got[0].auth != "bot:s3cret" || got[0].to[0] != "agent@example.com" {
				t.Fatalf("server received %+v, want one mail over TLS with the credentials", got)
			}

			// The certificate is verified: without the CA the send fails
			// before any credential or mail is sent.
			m, err = notify.ParseSMTPURL(base)
			if err != nil {
				t.Fatal(err)
			}
			err = m.Send(ctx, notify.Email{To: "agent@example.com", Subject: "s", Body: "b"})
			if err == nil || !strings.Contains(err.Error(), "certificate") {
				t.Fatalf("send to an unknown CA: %v, want a certificate error", err)
			}
			if n := len(srv.messages()); n != 1 {
				t.Fatalf("server has %d mails after the refused send, want 1", n)
			}
		})
	}
}

func TestSMTPURLCAFile(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.txt")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for ca, want := range map[string]string{
		filepath.Join(dir, "missing.pem"): "no such file",
		notPEM:                            "holds no PEM certificate",
	} {
		_, err := notify.ParseSMTPURL("smtp://mail.example.com:587?from=a@example.com&ca=" + ca)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "LOOPDESK_SMTP_URL") {
			t.Errorf("ca=%s: %v, want an error naming LOOPDESK_SMTP_URL and %q", ca, err, want)
		}
	}
}
