// The C target holds only declarations (include/CLighterSigner.h); SwiftPM needs one source.
#include "CLighterSigner.h"
