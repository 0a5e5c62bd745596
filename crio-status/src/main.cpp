#include <crio-status/cli.hpp>

#include <iostream>

int main(int argc, char** argv) { return crio::status::run_cli(argc, argv, std::cout, std::cerr); }
