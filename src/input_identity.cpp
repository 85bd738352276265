#include "cardsync/input_identity.hpp"

#include <openssl/evp.h>

#include <stdexcept>

namespace cardsync {

struct Sha256::Ctx {
    EVP_MD_CTX* md = nullptr;
    ~Ctx() { EVP_MD_CTX_free(md); }
};

Sha256::Sha256() : ctx_(std::make_unique<Ctx>()) {
    ctx_->md = EVP_MD_CTX_new();
    if (!ctx_->md || EVP_DigestInit_ex(ctx_->md, EVP_sha256(), nullptr) != 1)
        throw std::runtime_error("OpenSSL could not set up SHA-256");
}

Sha256::~Sha256() = default;

void Sha256::update(const void* data, std::size_t size) {
    if (size && EVP_DigestUpdate(ctx_->md, data, size) != 1) throw std::runtime_error("OpenSSL SHA-256 update failed");
}

std::string Sha256::hex() const {
    // Finish a copy, so the running hash can go on.
    Ctx copy;
    copy.md = EVP_MD_CTX_new();
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!copy.md || EVP_MD_CTX_copy_ex(copy.md, ctx_->md) != 1 || EVP_DigestFinal_ex(copy.md, digest, &n) != 1)
        throw std::runtime_error("OpenSSL SHA-256 final failed");
    static constexpr char hexdigits[] = "0123456789abcdef";
    std::string out;
    out.reserve(2 * n);
    for (unsigned int i = 0; i < n; ++i) {
        out += hexdigits[digest[i] >> 4];
        out += hexdigits[digest[i] & 0xF];
    }
    return out;
}

std::string sha256_hex(std::string_view bytes) {
    Sha256 sha;
    sha.update(bytes.data(), bytes.size());
    return sha.hex();
}

IdentifiedSource::IdentifiedSource(std::unique_ptr<ByteSource> inner, std::string name)
    : inner_(std::move(inner)), name_(std::move(name)) {}

std::size_t IdentifiedSource::read(char* out, std::size_t size) {
    const std::size_t n = inner_->read(out, size);
    if (n == 0 && size > 0) at_end_ = true;
    sha_.update(out, n);
    bytes_ += n;
    return n;
}

InputIdentity IdentifiedSource::identity() const {
    return InputIdentity{name_, bytes_, sha_.hex(), at_end_};
}

std::unique_ptr<IdentifiedSource> identify_input(std::unique_ptr<ByteSource> source, const std::string& path) {
    return std::make_unique<IdentifiedSource>(std::move(source), path == "-" ? "stdin" : path);
}

}  // namespace cardsync
