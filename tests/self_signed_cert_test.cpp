// make_self_signed_identity: a certificate OpenSSL verifies for 127.0.0.1 and localhost, and its key.
#include "cardsync/self_signed_cert.hpp"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <memory>

namespace cardsync {
namespace {

struct Parsed {
    std::unique_ptr<X509, decltype(&X509_free)> cert{nullptr, X509_free};
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key{nullptr, EVP_PKEY_free};
};

Parsed parse(const PemIdentity& id) {
    Parsed p;
    std::unique_ptr<BIO, decltype(&BIO_free)> cb(BIO_new_mem_buf(id.certificate_pem.data(), static_cast<int>(id.certificate_pem.size())), BIO_free);
    std::unique_ptr<BIO, decltype(&BIO_free)> kb(BIO_new_mem_buf(id.private_key_pem.data(), static_cast<int>(id.private_key_pem.size())), BIO_free);
    p.cert.reset(PEM_read_bio_X509(cb.get(), nullptr, nullptr, nullptr));
    p.key.reset(PEM_read_bio_PrivateKey(kb.get(), nullptr, nullptr, nullptr));
    return p;
}

TEST(SelfSignedIdentity, IsAValidP256CertificateForLoopbackNames) {
    const auto id = make_self_signed_identity();
    const auto p = parse(id);
    ASSERT_TRUE(p.cert);
    ASSERT_TRUE(p.key);
    EXPECT_EQ(X509_check_private_key(p.cert.get(), p.key.get()), 1);
    EXPECT_EQ(EVP_PKEY_get_base_id(p.key.get()), EVP_PKEY_EC);
    EXPECT_EQ(EVP_PKEY_get_bits(p.key.get()), 256);
    EXPECT_EQ(X509_verify(p.cert.get(), p.key.get()), 1) << "self-signed";
    EXPECT_EQ(X509_check_ip_asc(p.cert.get(), "127.0.0.1", 0), 1);
    EXPECT_EQ(X509_check_host(p.cert.get(), "localhost", 0, 0, nullptr), 1);
    EXPECT_NE(X509_check_host(p.cert.get(), "example.com", 0, 0, nullptr), 1);
    EXPECT_EQ(X509_cmp_current_time(X509_get0_notBefore(p.cert.get())), -1) << "valid already";
    EXPECT_EQ(X509_cmp_current_time(X509_get0_notAfter(p.cert.get())), 1) << "not expired";
}

TEST(SelfSignedIdentity, VerifiesAsItsOwnTrustAnchor) {
    const auto p = parse(make_self_signed_identity());
    std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)> store(X509_STORE_new(), X509_STORE_free);
    X509_STORE_add_cert(store.get(), p.cert.get());
    std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> ctx(X509_STORE_CTX_new(), X509_STORE_CTX_free);
    X509_STORE_CTX_init(ctx.get(), store.get(), p.cert.get(), nullptr);
    X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_SERVER);
    EXPECT_EQ(X509_verify_cert(ctx.get()), 1) << X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()));
}

TEST(SelfSignedIdentity, EachCallMakesANewKeyAndSerial) {
    const auto a = make_self_signed_identity(), b = make_self_signed_identity();
    EXPECT_NE(a.private_key_pem, b.private_key_pem);
    const auto pa = parse(a), pb = parse(b);
    EXPECT_NE(ASN1_INTEGER_cmp(X509_get0_serialNumber(pa.cert.get()), X509_get0_serialNumber(pb.cert.get())), 0);
}

}  // namespace
}  // namespace cardsync
