package main

import (
	"github.com/fengqiao/fengqiao/cases"
	"github.com/fengqiao/fengqiao/cases/regions"
)

// validRegionFlag checks a --region value: a known 6-, 9- or 12-digit division code.
func validRegionFlag(code string) error {
	if err := cases.ValidateRegion("region", code, regions.County, regions.Township, regions.Village); err != nil {
		return usageErrorf("--region %s: %s / %s", code, err.Zh, err.En)
	}
	return nil
}
