#include "cardsync/cli.hpp"

#include "cardsync/apply_command.hpp"
#include "cardsync/merge_command.hpp"
#include "cardsync/mock_command.hpp"
#include "cardsync/plan_command.hpp"

#include <CLI/CLI.hpp>

namespace cardsync {

int run_cli(int argc, char** argv) {
    CLI::App app{"cardsync: bulk contact-card updates for the Linq Partner API v3"};
    app.set_version_flag("--version", std::string("cardsync ") + CARDSYNC_VERSION);
    app.require_subcommand(1);
    app.footer("Exit status: 0 every row fine, 1 some rows not fine, 2 usage or input error, "
               "3 run aborted, 130 interrupted.");

    ApplyArgs apply_args;
    apply_args.command_line.assign(argv, argv + argc);
    auto* apply = add_apply_command(app, apply_args);
    PlanArgs plan_args;
    auto* plan = add_plan_command(app, plan_args);
    MockOptions mock_options;
    auto* mock = app.add_subcommand("mock", "Run the built-in simulator of the Linq contact-card API until SIGINT/SIGTERM");
    add_mock_options(*mock, mock_options, "");
    double stats_interval_s = 0;
    mock->add_option("--stats-interval", stats_interval_s,
                     "Print the counters on stderr every this many seconds (0: only at exit and on SIGUSR1)")
        ->check(CLI::Range(0.0, 86400.0));
    MergeArgs merge_args;
    auto* merge = add_merge_command(app, merge_args);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        // --help and --version are "errors" that exit 0; real usage errors exit 2.
        const int code = app.exit(e);
        return code == 0 ? exit_ok : exit_usage;
    }
    if (apply->parsed()) return run_apply_command(apply_args);
    if (plan->parsed()) return run_plan_command(plan_args);
    if (mock->parsed()) return run_mock_command(mock_options, stats_interval_s);
    if (merge->parsed()) return run_merge_command(merge_args);
    return exit_usage;
}

}  // namespace cardsync
