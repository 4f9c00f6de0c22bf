#include "its/vec.h"

#include <stdlib.h>
#include <string.h>

void *its_vec_push(void *arr_p, size_t *nr, size_t sz)
{
	void **arr = arr_p;
	size_t n = *nr;

	if ((n & (n - 1)) == 0) {
		void *p;

		if (n > ((size_t)-1) / 2 / sz)
			return NULL;
		p = realloc(*arr, (n ? n * 2 : 1) * sz);
		if (!p)
			return NULL;
		*arr = p;
	}
	memset((char *)*arr + n * sz, 0, sz);
	(*nr)++;
	return (char *)*arr + n * sz;
}
