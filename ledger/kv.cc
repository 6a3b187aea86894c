#include "ledger/kv.h"
