package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/golang-jwt/jwt/v5"
)

// minRSABits refuses RSA keys too short to be safe.
const minRSABits = 2048

// publicKeyAlg returns the one algorithm a public key verifies.
func publicKeyAlg(k crypto.PublicKey) (string, error) {
	switch k := k.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < minRSABits {
			return "", fmt.Errorf("auth: RSA key has %d bits, want at least %d", k.N.BitLen(), minRSABits)
		}
		return jwt.SigningMethodRS256.Alg(), nil
	case *ecdsa.PublicKey:
		return curveAlg(k.Curve)
	case ed25519.PublicKey:
		return jwt.SigningMethodEdDSA.Alg(), nil
	}
	return "", fmt.Errorf("auth: unsupported public key type %T", k)
}

func curveAlg(c elliptic.Curve) (string, error) {
	switch c {
	case elliptic.P256():
		return jwt.SigningMethodES256.Alg(), nil
	case elliptic.P384():
		return jwt.SigningMethodES384.Alg(), nil
	case elliptic.P521():
		return jwt.SigningMethodES512.Alg(), nil
	}
	return "", errors.New("auth: unsupported elliptic curve")
}

// ParsePublicKeyPEM reads the first PEM block of data: a PUBLIC KEY
// (PKIX), an RSA PUBLIC KEY (PKCS #1) or a CERTIFICATE.
func ParsePublicKeyPEM(data []byte) (crypto.PublicKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("auth: no PEM block found")
	}
	var (
		key crypto.PublicKey
		err error
	)
	switch block.Type {
	case "PUBLIC KEY":
		key, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		key, err = x509.ParsePKCS1PublicKey(block.Bytes)
	case "CERTIFICATE":
		var cert *x509.Certificate
		if cert, err = x509.ParseCertificate(block.Bytes); err == nil {
			key = cert.PublicKey
		}
	default:
		return nil, fmt.Errorf("auth: PEM block %q is not a public key or certificate", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("auth: parse %s: %w", block.Type, err)
	}
	if _, err := publicKeyAlg(key); err != nil {
		return nil, err
	}
	return key, nil
}

// ParsePrivateKeyPEM reads the first PEM block of data: a PRIVATE KEY
// (PKCS #8), an RSA PRIVATE KEY (PKCS #1) or an EC PRIVATE KEY (SEC 1).
func ParsePrivateKeyPEM(data []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("auth: no PEM block found")
	}
	var (
		key any
		err error
	)
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("auth: PEM block %q is not a private key", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("auth: parse %s: %w", block.Type, err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("auth: unsupported private key type %T", key)
	}
	if _, err := publicKeyAlg(signer.Public()); err != nil {
		return nil, err
	}
	return signer, nil
}
