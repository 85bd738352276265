#pragma once
// Which input a run read: its name, size and SHA-256, so shard results of one input can be merged
// and shards of another input refused.

#include "cardsync/byte_source.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace cardsync {

struct InputIdentity {
    std::string name;        ///< the path as given, or "stdin"
    std::uint64_t bytes = 0; ///< bytes read
    std::string sha256;      ///< lowercase hex of every byte read; empty when not computed
    bool complete = false;   ///< the whole input was read (bytes and sha256 describe all of it)

    /// Same bytes and digest (the name may differ: the same file mounted at another path).
    bool same_content(const InputIdentity& other) const noexcept {
        return bytes == other.bytes && sha256 == other.sha256;
    }
};

/// Incremental SHA-256 (OpenSSL EVP, which uses SHA-NI / AVX2 where the CPU has them).
class Sha256 {
public:
    Sha256();
    ~Sha256();
    Sha256(const Sha256&) = delete;
    Sha256& operator=(const Sha256&) = delete;
    void update(const void* data, std::size_t size);
    /// Lowercase hex of everything so far; the hash can go on being updated afterwards.
    std::string hex() const;

private:
    struct Ctx;
    std::unique_ptr<Ctx> ctx_;
};

/// SHA-256 of `bytes`, lowercase hex.
std::string sha256_hex(std::string_view bytes);

/// A ByteSource that passes another one's bytes through, counting and hashing them on the way.
class IdentifiedSource final : public ByteSource {
public:
    /// `name` is what identity() reports ("stdin" for "-").
    IdentifiedSource(std::unique_ptr<ByteSource> inner, std::string name);
    std::size_t read(char* out, std::size_t size) override;
    std::uint64_t size_hint() const noexcept override { return inner_->size_hint(); }
    std::string_view name() const noexcept override { return inner_->name(); }
    void interrupt() noexcept override { inner_->interrupt(); }
    /// What was read so far; complete once a read has returned end of input.
    InputIdentity identity() const;

private:
    std::unique_ptr<ByteSource> inner_;
    std::string name_;
    Sha256 sha_;
    std::uint64_t bytes_ = 0;
    bool at_end_ = false;
};

/// Wraps `source` for `path` ("-" is named "stdin").
std::unique_ptr<IdentifiedSource> identify_input(std::unique_ptr<ByteSource> source, const std::string& path);

}  // namespace cardsync
