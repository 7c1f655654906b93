#include "shoal/upstream/balancer.h"

const struct shoal_balancer *shoal_balancer_for(enum shoal_balance balance)
{
	switch (balance) {
	case SHOAL_BALANCE_LEAST_CONN:
		return &shoal_balancer_least_conn;
	case SHOAL_BALANCE_RANDOM:
		return &shoal_balancer_random;
	case SHOAL_BALANCE_HASH:
		return &shoal_balancer_hash;
	case SHOAL_BALANCE_ROUND_ROBIN:
		break;
	}
	return &shoal_balancer_rr;
}
