//! Test support: network namespaces and real BGP daemons, torn down on drop.
