/* Binary search over arrays of records sorted by one field. */
#ifndef ITS_SEARCH_H
#define ITS_SEARCH_H

#include <stddef.h>

/* Index of the first of arr[0..n) whose .field is not below key (n when
 * none); arr must be sorted by field. */
#define ITS_LOWER_BOUND(arr, n, field, key) ({				\
	size_t lo_ = 0, hi_ = (n);					\
	while (lo_ < hi_) {						\
		size_t mid_ = lo_ + (hi_ - lo_) / 2;			\
		if ((arr)[mid_].field < (key))				\
			lo_ = mid_ + 1;					\
		else							\
			hi_ = mid_;					\
	}								\
	lo_;								\
})

/* Pointer to the element of arr[0..n) whose .field equals key, or NULL. */
#define ITS_FIND_SORTED(arr, n, field, key) ({				\
	size_t at_ = ITS_LOWER_BOUND(arr, n, field, key);		\
	at_ < (n) && (arr)[at_].field == (key) ? &(arr)[at_] : NULL;	\
})

#endif
