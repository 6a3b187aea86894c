// C2SP signed notes (in progress).
#include "crypto/merkle.h"
