/* STUB - replaced by the HTTP service work. */
#include <orrery/host.h>
