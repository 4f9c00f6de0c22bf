/* Growing arrays: *arr of *nr elements of sz bytes, capacity doubling at
 * powers of two (so no capacity field is needed). */
#ifndef ITS_VEC_H
#define ITS_VEC_H

#include <stddef.h>

/* Append one zeroed element; its address, or NULL when out of memory (the
 * array is left as it was). arr_p is the address of the array pointer. */
void *its_vec_push(void *arr_p, size_t *nr, size_t sz);

#endif
