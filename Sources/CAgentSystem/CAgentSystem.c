// The functions of this target are static inline in include/CAgentSystem.h; SwiftPM needs one C file to build it.
#include "CAgentSystem.h"
