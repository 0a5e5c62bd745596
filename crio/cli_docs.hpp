#pragma once
// crio's manual page and shell completions, generated from the same flag and command
// tables as --help so that they cannot drift from what the command line takes.

#include <string>

namespace crio::daemon {

// `crio completion SHELL`: "bash", "zsh" or "fish".
std::string completion_script(const std::string& shell);

// `crio man` (roff, for man(1)) and `crio markdown`.
std::string man_page();
std::string markdown_page();

}  // namespace crio::daemon
