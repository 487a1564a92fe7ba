// The report module; see the files beside this one.
