#pragma once
// `cardsync plan INPUT`: reads the live cards (one GET /v3/contact_card), then says per row what
// `cardsync apply` would do with it -- change (field: old -> new), unchanged, create, no card,
// invalid -- and the totals. Sends no write. Readable text, or NDJSON with --json.

#include "cardsync/apply_command.hpp"
#include "cardsync/card_snapshot.hpp"
#include "cardsync/sync_plan.hpp"

#include <cstdio>

namespace CLI {
class App;
}

namespace cardsync {

class RowReader;

/// What `cardsync plan` was asked (the sending and --mock options are apply's).
struct PlanArgs {
    ApplyArgs send;      ///< input, --format, --create-missing, base URL, key file, TLS, --mock...
    bool json = false;   ///< NDJSON: one object per row, then {"totals":{...}}
};

/// Registers the `plan` subcommand on `app`, bound to `args`.
CLI::App* add_plan_command(CLI::App& app, PlanArgs& args);

/// Decides every row of `reader` against `snapshot` (as `apply` with the same create_missing
/// would) and writes one line per row and the totals to `out`: text, or NDJSON when `json`.
PlanTotals write_plan(RowReader& reader, const CardSnapshot& snapshot, bool create_missing, bool json, std::FILE* out);

/// Runs `cardsync plan`; returns the exit status: 0 when every row would be updated or skipped
/// (change, unchanged, create), 1 when some would not (no card, invalid), 2 usage or input
/// error, 3 when the live cards could not be read.
int run_plan_command(const PlanArgs& args);

}  // namespace cardsync
