// GCC 13's entry point for initialising the standard streams, which libLibTorchSharp.so (built with GCC 13 or later)
// calls from its static initialisers and so requires GLIBCXX_3.4.32. Debian 12's libstdc++ (GCC 12, up to 3.4.30)
// initialises the streams through std::ios_base::Init instead: this does the same for a caller that asks.
#include <ios>

namespace std
{
void ios_base_library_init() { static ios_base::Init init; }
}
