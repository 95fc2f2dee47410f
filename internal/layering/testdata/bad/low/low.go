package low

import (
	_ "net/http"

	_ "example.com/bad/high"
)
