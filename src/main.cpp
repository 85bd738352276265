// Thin entry point: the library's command-line front end does the work, so tests can drive it.
#include "cardsync/cli.hpp"

int main(int argc, char** argv) { return cardsync::run_cli(argc, argv); }
