#pragma once
// Taking the snapshot: one `GET /v3/contact_card` (all the partner's cards) before a run, over the
// same connection pool, TLS set-up and retry policy as the writes. The card list is parsed as it
// arrives (the pool's body_sink feeds a CardSnapshotBuilder), so it is never held whole; a retried
// GET starts a new builder. Blocking: it runs its own io_context and returns when parsed.

#include "cardsync/card_snapshot.hpp"
#include "cardsync/engine.hpp"

#include <cstdint>
#include <string>

namespace cardsync {

/// The snapshot and how it was obtained.
struct FetchedSnapshot {
    CardSnapshot cards;
    std::size_t body_bytes = 0;   ///< size of the answer's body
    int attempts = 0;             ///< GET requests sent
    double elapsed_s = 0;
};

/// "25 live cards (3.1 KiB answer, 1 request, 0.01 s)", for the run's stderr.
std::string describe(const FetchedSnapshot& snapshot);

/// Fetches and parses every live card, using `options`' base URL, key, TLS options, timeouts and
/// retry settings (max_attempts, backoffs, max_retry_wait): transport failures, 5xx and 429 are
/// retried, waiting for Retry-After when given. Throws std::invalid_argument for bad options and
/// SnapshotError when no usable answer came (401, 403, another 4xx, attempts exhausted, a body
/// that is not the documented card list); the message says what to do and never holds the key.
/// Sends no write.
FetchedSnapshot fetch_card_snapshot(const ApplyOptions& options);

}  // namespace cardsync
