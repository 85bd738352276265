#include "cardsync/cli.hpp"

#include <CLI/CLI.hpp>

namespace cardsync {

int run_cli(int argc, char** argv) {
    CLI::App app{"cardsync: bulk contact-card updates for the Linq Partner API v3"};
    app.set_version_flag("--version", std::string("cardsync ") + CARDSYNC_VERSION);
    app.require_subcommand(1);
    CLI11_PARSE(app, argc, argv);
    return exit_ok;
}

}  // namespace cardsync
