#pragma once
// A throwaway TLS identity for 127.0.0.1 and localhost, made with the OpenSSL 3 API: what the
// simulator serves when given no certificate, and what tests use to stand up TLS servers.

#include <string>

namespace cardsync {

/// A certificate and its private key, both PEM.
struct PemIdentity {
    std::string certificate_pem;
    std::string private_key_pem;
};

/// Generates an ECDSA P-256 key and a self-signed X.509 v3 certificate (SHA-256) for CN=localhost
/// with subjectAltName IP:127.0.0.1, DNS:localhost, valid from an hour ago for 30 days, marked as its
/// own CA so clients can trust it directly (curl --cacert, ssl::context::load_verify_file).
/// Throws std::runtime_error with OpenSSL's reason on failure.
PemIdentity make_self_signed_identity();

}  // namespace cardsync
